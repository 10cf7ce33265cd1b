// CDMoE's routed experts on the GPU (kernels/cdmoe_kernels.cu), for both forwards: the routing (twin: cdmoe_route)
// and the experts' weighted sum (twin: cdmoe_add_experts), core/model/cdmoe_experts.h. The fp32 overloads compute
// what the CPU computes (CdmoeRounding::Fp32); the bf16 overloads round where transformers' bf16 CDMoE rounds
// (CdmoeRounding::Bf16). One CTA of kCdmoeThreads per token; fixed launch shapes and no allocation, so both can be
// captured into a CUDA graph. Every launch is checked.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cdmoe_plan.h"

namespace dmascope::cuda::detail {

using bf16_t = __nv_bfloat16;

// Lets the kernels take the plan's shared memory where it is above the default 48 KB (an opt-in per kernel). Call once
// per plan before the launches, outside a graph capture.
void configure_cdmoe_kernels(const CdmoeRoutingPlan& plan);

// router_logits [N, 2K] token-major, read as the raw view [2, N, K] → expert_ids [N, top] (best first) and
// routing_weights [N, top] (fp32; bf16 values for the bf16 overload). Grid N, block kCdmoeThreads, dynamic shared
// memory plan.routing_shared_bytes: each part's K values as 64-bit sort keys (rank key, index) bitonic-sorted, the
// candidate pair sums (cdmoe_plan.h) as (rank key, flat index a·K + b) bitonic-sorted, the chosen sums' exps.
void launch_cdmoe_route(const CdmoeRoutingPlan& plan, const float* router_logits, int tokens, std::int32_t* expert_ids,
                        float* routing_weights, cudaStream_t stream);
void launch_cdmoe_route(const CdmoeRoutingPlan& plan, const bf16_t* router_logits, int tokens,
                        std::int32_t* expert_ids, float* routing_weights, cudaStream_t stream);

// y [N, D] (the shared expert's output) += Σ_t silu(down_embed[e]·h[r]) · weight · up_embed[e], e = expert_ids[r, t]:
// h, y [N, D]; down_embed, up_embed [experts, D]. Grid N, block kCdmoeThreads, dynamic shared memory
// plan.experts_shared_bytes: one warp per expert computes its dot product (lanes over D, butterfly sum) into its
// activation, then each thread adds its columns' terms in expert order. The bf16 overload adds the rounded sum to y
// once and raises `flag` (an int on the device) when a value it writes is not finite.
void launch_cdmoe_add_experts(const CdmoeRoutingPlan& plan, const float* h, int tokens, int hidden,
                              const float* down_embed, const float* up_embed, const std::int32_t* expert_ids,
                              const float* routing_weights, float* y, cudaStream_t stream);
void launch_cdmoe_add_experts(const CdmoeRoutingPlan& plan, const bf16_t* h, int tokens, int hidden,
                              const bf16_t* down_embed, const bf16_t* up_embed, const std::int32_t* expert_ids,
                              const float* routing_weights, bf16_t* y, int* flag, cudaStream_t stream);

}  // namespace dmascope::cuda::detail
