// Device entry points of the logits and probabilities views (kernels/logit_view.cu), computed from the q and k a
// forward left on the device, for the visible window only. Twins: row_log_sum_exp and reduce_logits_to_grid
// (core/view/view_reduce.h), the same entries in the same order, so the tests compare them value for value.
// Host-side use: CudaCaptures (kernels/cuda_captures.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dmascope::cuda::detail {

// The element type of the kept q/k: the forward's precision.
enum class CaptureType { F32, BF16 };

// One query head's view problem: q [L, d] and k [L, d] (its kv head) of `type`, β [L] and death [L] of its bias head.
struct LogitViewProblem {
  const void* q = nullptr;
  const void* k = nullptr;
  const float* beta = nullptr;
  const std::int32_t* death = nullptr;
  CaptureType type = CaptureType::BF16;
  int length = 0, head_dim = 0;
  float scale = 1.0f;
};

// lse[n] = log Σ exp(S[row_begin + n, j]) over the row's kept keys (j ≤ i < death[j]), n < rows; −∞ when none.
void launch_row_log_sum_exp(const LogitViewProblem& problem, int row_begin, int rows, float* lse,
                            cudaStream_t stream);

// The pixels of a [height, width] grid (row-major): pixel (y, x) covers rows [row_ranges[2y], row_ranges[2y+1]) and
// keys [col_ranges[2x], col_ranges[2x+1]). budget: kept entries a pixel may compute (INT64_MAX: all). lse (null for
// logits): the row log-sum-exp of rows [lse_first_row, ...), making the values probabilities. Per pixel: value,
// coverage (LogitPixel), entries computed, sampled (0/1).
struct LogitGridPixels {
  float* values = nullptr;
  std::uint8_t* coverage = nullptr;
  long long* computed = nullptr;
  std::uint8_t* sampled = nullptr;
};
void launch_logit_grid(const LogitViewProblem& problem, const std::int64_t* row_ranges, int height,
                       const std::int64_t* col_ranges, int width, bool max_mode, long long budget, const float* lse,
                       int lse_first_row, const LogitGridPixels& out, cudaStream_t stream);

}  // namespace dmascope::cuda::detail
