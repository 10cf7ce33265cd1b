// The logits and probabilities views on the device (declared in kernels/logit_view.cuh). Every logit is computed as
// the CPU twin computes it (core/view/view_reduce_logits.cpp): q·k with eight partial sums in the same order, no fused
// multiply-adds (explicit round-to-nearest operations), times the scale, plus β; the grid's pixels walk their kept
// entries, and pick their samples, exactly as reduce_pixel does. One thread per pixel, one warp per row's log-sum-exp.
#include "kernels/logit_view.cuh"

#include <cuda_bf16.h>

#include <climits>
#include <cmath>

#include "kernels/cuda_check.h"

namespace dmascope::cuda::detail {

namespace {

__device__ __forceinline__ float element(const float* values, std::int64_t n) { return values[n]; }
__device__ __forceinline__ float element(const __nv_bfloat16* values, std::int64_t n) {
  return __bfloat162float(values[n]);
}

template <class T, class U>
__device__ float dot_in_cpu_order(const T* a, const U* b, int n) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int k = 0;
  for (; k + 8 <= n; k += 8)
#pragma unroll
    for (int lane = 0; lane < 8; ++lane)
      partial[lane] = __fadd_rn(partial[lane], __fmul_rn(element(a, k + lane), element(b, k + lane)));
  for (; k < n; ++k) partial[k % 8] = __fadd_rn(partial[k % 8], __fmul_rn(element(a, k), element(b, k)));
  return __fadd_rn(__fadd_rn(__fadd_rn(partial[0], partial[1]), __fadd_rn(partial[2], partial[3])),
                   __fadd_rn(__fadd_rn(partial[4], partial[5]), __fadd_rn(partial[6], partial[7])));
}

template <class T>
__device__ float logit_of(const T* q, const T* k, const float* beta, int d, float scale, int i, int j) {
  return __fadd_rn(__fmul_rn(dot_in_cpu_order(q + static_cast<std::int64_t>(i) * d,
                                              k + static_cast<std::int64_t>(j) * d, d),
                             scale),
                   beta[j]);
}

constexpr int kWarpsPerBlock = 8;

// One warp per row: the maximum of the kept logits, then Σ exp(logit − max) in double (the CPU's order differs only
// in how the double sum is associated).
template <class T>
__global__ void row_log_sum_exp_kernel(const T* q, const T* k, const float* beta, const std::int32_t* death, int d,
                                       float scale, int row_begin, int rows, float* lse) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int n = blockIdx.x * kWarpsPerBlock + warp;
  if (n >= rows) return;
  const int i = row_begin + n;
  float largest = -INFINITY;
  bool any = false;
  for (int j = lane; j <= i; j += 32)
    if (death[j] > i) {
      largest = fmaxf(largest, logit_of(q, k, beta, d, scale, i, j));
      any = true;
    }
  for (int offset = 16; offset > 0; offset /= 2) {
    largest = fmaxf(largest, __shfl_xor_sync(0xffffffffu, largest, offset));
    any = __shfl_xor_sync(0xffffffffu, any ? 1 : 0, offset) != 0 || any;
  }
  if (!any) {
    if (lane == 0) lse[n] = -INFINITY;
    return;
  }
  double sum = 0.0;
  for (int j = lane; j <= i; j += 32)
    if (death[j] > i) sum += exp(static_cast<double>(logit_of(q, k, beta, d, scale, i, j)) - largest);
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (lane == 0) lse[n] = static_cast<float>(static_cast<double>(largest) + log(sum));
}

// reduce_pixel's twin (core/view/view_reduce_logits.cpp).
template <class T>
__global__ void logit_grid_kernel(const T* q, const T* k, const float* beta, const std::int32_t* death, int d,
                                  float scale, const std::int64_t* row_ranges, int height,
                                  const std::int64_t* col_ranges, int width, bool max_mode, long long budget,
                                  const float* lse, int lse_first_row, LogitGridPixels out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= height) return;
  const std::int64_t pixel = static_cast<std::int64_t>(y) * width + x;
  const std::int64_t row_begin = row_ranges[2 * y], row_end = row_ranges[2 * y + 1];
  const std::int64_t key_begin = col_ranges[2 * x];
  const std::int64_t key_end = min(col_ranges[2 * x + 1], row_end);  // keys past the band's last row: above the diagonal
  out.values[pixel] = 0.0f;
  out.coverage[pixel] = 0;  // NoCausalCell
  out.computed[pixel] = 0;
  out.sampled[pixel] = 0;
  if (key_begin >= key_end) return;
  out.coverage[pixel] = 1;  // AllMasked
  auto interval_begin = [&](std::int64_t j) { return max(j, row_begin); };
  auto interval_end = [&](std::int64_t j) { return min(static_cast<std::int64_t>(death[j]), row_end); };
  long long kept = 0;
  for (std::int64_t j = key_begin; j < key_end; ++j) kept += max(0ll, static_cast<long long>(interval_end(j) - interval_begin(j)));
  if (kept == 0) return;
  out.coverage[pixel] = 2;  // Value
  double sum = 0.0;
  float largest = -INFINITY;
  long long computed = 0;
  auto take = [&](std::int64_t i, std::int64_t j) {
    float value = logit_of(q, k, beta, d, scale, static_cast<int>(i), static_cast<int>(j));
    if (lse) value = expf(__fsub_rn(value, lse[i - lse_first_row]));
    sum += value;
    largest = fmaxf(largest, value);
    ++computed;
  };
  if (kept <= budget) {
    for (std::int64_t j = key_begin; j < key_end; ++j)
      for (std::int64_t i = interval_begin(j); i < interval_end(j); ++i) take(i, j);
  } else {
    out.sampled[pixel] = 1;
    long long sample = 0, before = 0;
    auto target = [&](long long s) {
      return static_cast<long long>((static_cast<double>(s) + 0.5) * static_cast<double>(kept) /
                                    static_cast<double>(budget));
    };
    for (std::int64_t j = key_begin; j < key_end && sample < budget; ++j) {
      const std::int64_t first = interval_begin(j);
      const long long count = max(0ll, static_cast<long long>(interval_end(j) - first));
      for (long long t = target(sample); sample < budget && t < before + count; t = target(++sample))
        take(first + (t - before), j);
      before += count;
    }
  }
  out.values[pixel] = max_mode ? largest : static_cast<float>(sum / static_cast<double>(computed));
  out.computed[pixel] = computed;
}

}  // namespace

void launch_row_log_sum_exp(const LogitViewProblem& p, int row_begin, int rows, float* lse, cudaStream_t stream) {
  if (rows <= 0) return;
  const dim3 blocks((rows + kWarpsPerBlock - 1) / kWarpsPerBlock), threads(32 * kWarpsPerBlock);
  if (p.type == CaptureType::BF16)
    row_log_sum_exp_kernel<<<blocks, threads, 0, stream>>>(static_cast<const __nv_bfloat16*>(p.q),
                                                           static_cast<const __nv_bfloat16*>(p.k), p.beta, p.death,
                                                           p.head_dim, p.scale, row_begin, rows, lse);
  else
    row_log_sum_exp_kernel<<<blocks, threads, 0, stream>>>(static_cast<const float*>(p.q),
                                                           static_cast<const float*>(p.k), p.beta, p.death,
                                                           p.head_dim, p.scale, row_begin, rows, lse);
  DMASCOPE_CUDA_CHECK(cudaGetLastError());
}

void launch_logit_grid(const LogitViewProblem& p, const std::int64_t* row_ranges, int height,
                       const std::int64_t* col_ranges, int width, bool max_mode, long long budget, const float* lse,
                       int lse_first_row, const LogitGridPixels& out, cudaStream_t stream) {
  if (width <= 0 || height <= 0) return;
  const dim3 threads(16, 16), blocks((width + 15) / 16, (height + 15) / 16);
  if (p.type == CaptureType::BF16)
    logit_grid_kernel<<<blocks, threads, 0, stream>>>(static_cast<const __nv_bfloat16*>(p.q),
                                                      static_cast<const __nv_bfloat16*>(p.k), p.beta, p.death,
                                                      p.head_dim, p.scale, row_ranges, height, col_ranges, width,
                                                      max_mode, budget, lse, lse_first_row, out);
  else
    logit_grid_kernel<<<blocks, threads, 0, stream>>>(static_cast<const float*>(p.q), static_cast<const float*>(p.k),
                                                      p.beta, p.death, p.head_dim, p.scale, row_ranges, height,
                                                      col_ranges, width, max_mode, budget, lse, lse_first_row, out);
  DMASCOPE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace dmascope::cuda::detail
