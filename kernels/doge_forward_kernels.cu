// The element-wise and row-wise kernels of the GPU Doge forward. Each matches a CPU twin in core/ (named at each
// kernel) up to fp32 rounding: the reductions sum in another order, transcendental functions are CUDA's (≤ 2 ulp).
// Built without fast-math on purpose: expf/cosf/sinf/log1pf must be the accurate versions.
#include "kernels/cuda_check.h"
#include "kernels/doge_forward_kernels.cuh"

namespace dmascope::cuda::detail {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(long long items, int threads) { return static_cast<unsigned>((items + threads - 1) / threads); }

__device__ float silu_device(float x) { return x / (1.0f + expf(-x)); }
__device__ float softplus_device(float x) { return x > 20.0f ? x : log1pf(expf(x)); }  // torch's threshold 20

// Twin: embed_rows_f32. One thread per element of x [L, D].
__global__ void embed_rows_kernel(const float* embed, const std::int32_t* ids, int length, int hidden, float* x) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(length) * hidden) return;
  const long long p = i / hidden, c = i % hidden;
  x[i] = embed[static_cast<long long>(ids[p]) * hidden + c];
}

// Twin: rms_norm_f32. One warp per row (8 rows per block of 256): lane-strided sum of squares, butterfly reduce.
__global__ void rms_norm_kernel(const float* x, long long rows, int features, const float* weight, float eps, float* y) {
  const long long row = static_cast<long long>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* in = x + row * features;
  float sum_squares = 0.0f;
  for (int i = lane; i < features; i += 32) sum_squares += in[i] * in[i];
  for (int offset = 16; offset > 0; offset /= 2) sum_squares += __shfl_xor_sync(0xFFFFFFFFu, sum_squares, offset);
  const float inverse_rms = 1.0f / sqrtf(sum_squares / static_cast<float>(features) + eps);
  float* out = y + row * features;
  for (int i = lane; i < features; i += 32) out[i] = weight[i] * (in[i] * inverse_rms);
}

// Twin: linear_f32's bias term. One thread per element of y [rows, out].
__global__ void add_row_bias_kernel(float* y, long long rows, int out, const float* bias) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < rows * out) y[i] += bias[i % out];
}

// Twin: apply_rope + heads_first_f32. One thread per (position, head, k < d/2): reads the pair (k, k + d/2) of
// x [L, heads, d] and writes it rotated into y [heads, L, d]. The angle is float(position)·inv_freq[k], as on the CPU.
__global__ void rope_heads_first_kernel(const float* x, int length, int heads, int head_dim,
                                        const float* inverse_frequencies, float* y) {
  const int half = head_dim / 2;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(length) * heads * half) return;
  const int k = static_cast<int>(i % half);
  const long long pair = i / half;
  const int h = static_cast<int>(pair % heads);
  const int p = static_cast<int>(pair / heads);
  const float angle = static_cast<float>(p) * inverse_frequencies[k];
  const float c = cosf(angle), s = sinf(angle);
  const float* in = x + (static_cast<long long>(p) * heads + h) * head_dim;
  float* out = y + (static_cast<long long>(h) * length + p) * head_dim;
  const float first = in[k], second = in[k + half];
  out[k] = first * c - second * s;
  out[k + half] = second * c + first * s;
}

// Twin: doge_dynamic_bias (after its dt projection). One thread per (key j, bias head n); writes β transposed.
__global__ void dynamic_bias_kernel(const float* dt, int length, int bias_heads, const float* A, bool exp_formula,
                                    float* beta) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(length) * bias_heads) return;
  const int n = static_cast<int>(i % bias_heads);
  const long long j = i / bias_heads;
  const float scaled = A[n] * softplus_device(dt[i]);
  beta[n * static_cast<long long>(length) + j] = exp_formula ? expf(scaled) : scaled;
}

// Twin: residual_f32. One thread per element.
__global__ void residual_kernel(float* x, const float* residual_weight, const float* update, long long rows,
                                int features) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < rows * features) x[i] = residual_weight[i % features] * x[i] + update[i];
}

// Twin: silu_gate_f32. One thread per element.
__global__ void silu_gate_kernel(float* gate, const float* up, long long count) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) gate[i] = silu_device(gate[i]) * up[i];
}

}  // namespace

void launch_embed_rows(const float* embed, const std::int32_t* ids, int length, int hidden, float* x,
                       cudaStream_t stream) {
  const long long total = static_cast<long long>(length) * hidden;
  if (total == 0) return;
  embed_rows_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(embed, ids, length, hidden, x);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_rms_norm(const float* x, long long rows, int features, const float* weight, float eps, float* y,
                     cudaStream_t stream) {
  if (rows == 0) return;
  rms_norm_kernel<<<blocks_for(rows, kThreads / 32), kThreads, 0, stream>>>(x, rows, features, weight, eps, y);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_add_row_bias(float* y, long long rows, int out, const float* bias, cudaStream_t stream) {
  if (rows * out == 0) return;
  add_row_bias_kernel<<<blocks_for(rows * out, kThreads), kThreads, 0, stream>>>(y, rows, out, bias);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_rope_heads_first(const float* x, int length, int heads, int head_dim, const float* inverse_frequencies,
                             float* y, cudaStream_t stream) {
  const long long total = static_cast<long long>(length) * heads * (head_dim / 2);
  if (total == 0) return;
  rope_heads_first_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(x, length, heads, head_dim,
                                                                                inverse_frequencies, y);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_dynamic_bias(const float* dt, int length, int bias_heads, const float* A, bool exp_formula, float* beta,
                         cudaStream_t stream) {
  const long long total = static_cast<long long>(length) * bias_heads;
  if (total == 0) return;
  dynamic_bias_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(dt, length, bias_heads, A, exp_formula,
                                                                            beta);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_residual(float* x, const float* residual_weight, const float* update, long long rows, int features,
                     cudaStream_t stream) {
  if (rows * features == 0) return;
  residual_kernel<<<blocks_for(rows * features, kThreads), kThreads, 0, stream>>>(x, residual_weight, update, rows,
                                                                                  features);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_silu_gate(float* gate, const float* up, long long count, cudaStream_t stream) {
  if (count == 0) return;
  silu_gate_kernel<<<blocks_for(count, kThreads), kThreads, 0, stream>>>(gate, up, count);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda::detail
