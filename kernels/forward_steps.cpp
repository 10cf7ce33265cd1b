// The non-finite check of the GPU forwards (kernels/forward_steps.h).
#include "kernels/forward_steps.h"

#include <array>
#include <vector>

#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace dmascope::cuda::detail {

namespace {

constexpr std::array<const char*, kForwardSteps> kStepNames = {
    "input_layernorm", "q/k norm", "q_rope", "k_rope", "v", "dyn_bias", "context", "attention residual",
    "post_attention_layernorm", "mlp gate (silu(gate)·up)", "mlp_out", "output"};

}  // namespace

void require_finite_steps(const int* device_flags, std::int64_t layers, const char* precision) {
  std::vector<int> raised(static_cast<std::size_t>(forward_step_flags(layers)));
  DMASCOPE_CUDA_CHECK(cudaMemcpy(raised.data(), device_flags, raised.size() * sizeof(int), cudaMemcpyDeviceToHost));
  for (std::int64_t layer = 0; layer < layers; ++layer)
    for (int step = 0; step < kForwardSteps; ++step)
      if (raised[static_cast<std::size_t>(layer * kForwardSteps + step)])
        fail("forward: layer {} {} has NaN or infinite values (GPU forward, {}: the first step where they appear)",
             layer, kStepNames[static_cast<std::size_t>(step)], precision);
  const int* final_flags = raised.data() + layers * kForwardSteps;
  if (final_flags[kFinalNorm]) fail("forward: final norm has NaN or infinite values (GPU forward, {})", precision);
  if (final_flags[kLogits]) fail("forward: final logits has NaN or infinite values (GPU forward, {})", precision);
}

}  // namespace dmascope::cuda::detail
