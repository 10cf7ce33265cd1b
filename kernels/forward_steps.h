// The steps of a GPU Doge forward whose outputs carry a non-finite flag (one int on the device per layer and step, set
// to 1 by whatever kernel sees a NaN or an infinity there), and the error that names the first flagged one, in the
// order the forward runs them, as the CPU forward names its stages (core/model/doge_forward.cpp). Shared by the fp32
// (doge_forward_cuda) and the bf16 (doge_forward_bf16) forwards; plain C++.
#pragma once

#include <cstdint>

namespace dmascope::cuda::detail {

enum ForwardStep : int {
  kInputNorm, kQkNorm, kQRope, kKRope, kValues, kDynBias, kContext, kAttentionResidual, kPostNorm, kMlpGate,
  kMlpOut,  // CDMoE models only: the shared expert's output plus the routed experts'
  kOutput, kForwardSteps
};
// The last row of the flags, after the layers' rows.
enum FinalStep : int { kFinalNorm, kLogits };

// Flags of a forward of `layers` layers: (layers + 1) · kForwardSteps ints.
inline std::int64_t forward_step_flags(std::int64_t layers) { return (layers + 1) * kForwardSteps; }

// Reads the flags from the device once and throws Error naming the first flagged (layer, step), e.g.
// "forward: layer 1 attention residual has NaN or infinite values (GPU forward, bf16: ...)".
void require_finite_steps(const int* device_flags, std::int64_t layers, const char* precision);

}  // namespace dmascope::cuda::detail
