// CDMoE's GPU kernels (kernels/cdmoe_kernels.cuh) alone on host vectors (upload, one launch, download), for the tests
// that compare them with their CPU twins, cdmoe_route and cdmoe_add_experts (core/model/cdmoe_experts.h), whose
// arguments and layouts they take. CdmoeRounding::Bf16 runs the bf16 overloads: the inputs must then hold bf16 values
// (they are uploaded as bf16) and the outputs come back widened to fp32. Test-only.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/cdmoe_experts.h"

namespace dmascope::cuda::kernel_check {

struct CdmoeChoices {
  std::vector<std::int32_t> expert_ids;  // [N, top]
  std::vector<float> routing_weights;    // [N, top]
};

// router_logits [N, 2K].
CdmoeChoices cdmoe_route(const std::vector<float>& router_logits, const CdmoeRouting& shape, CdmoeRounding rounding);

// h, y [N, D], the embeddings [K², D]; returns y after the experts were added into it.
std::vector<float> cdmoe_add_experts(const std::vector<float>& h, const CdmoeRouting& shape, std::int64_t hidden,
                                     const std::vector<float>& down_embed, const std::vector<float>& up_embed,
                                     const CdmoeChoices& choices, CdmoeRounding rounding, std::vector<float> y);

}  // namespace dmascope::cuda::kernel_check
