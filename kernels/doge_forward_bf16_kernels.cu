// The element-wise and row-wise kernels of the bf16 GPU Doge forward. Their fp32 twins are the kernels of
// kernels/doge_forward_kernels.cu (and core/'s CPU forward); these differ from them only in where they round to bf16,
// which follows transformers' bf16 forward op by op (comments at each kernel). Built without fast-math on purpose:
// expf/cosf/sinf/log1pf must be the accurate versions, as torch's.
#include <algorithm>

#include "kernels/cuda_check.h"
#include "kernels/doge_forward_bf16_kernels.cuh"

namespace dmascope::cuda::detail {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(long long items, int threads) { return static_cast<unsigned>((items + threads - 1) / threads); }

__device__ inline float to_f(bf16_t x) { return __bfloat162float(x); }
__device__ inline bf16_t to_b(float x) { return __float2bfloat16_rn(x); }
__device__ inline float round_b(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }
// Raises the step's flag; every thread that sees a bad value writes the same 1, so no atomic is needed.
__device__ inline void flag_if_bad(float value, int* flag) {
  if (!isfinite(value)) *flag = 1;
}

__global__ void embed_rows_kernel(const bf16_t* embed, const std::int32_t* ids, int length, int hidden, bf16_t* x) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(length) * hidden) return;
  const long long p = i / hidden, c = i % hidden;
  x[i] = embed[static_cast<long long>(ids[p]) * hidden + c];
}

// transformers' DogeRMSNorm: variance of the fp32 input, x·rsqrt(var + eps) cast to bf16, then × weight in bf16. One
// warp per vector.
__global__ void rms_norm_kernel(const bf16_t* x, long long rows, int features, int group, long long stride,
                                const bf16_t* weight, float eps, bf16_t* y, int* flag) {
  const long long row = static_cast<long long>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const long long offset = (row / group) * stride + (row % group) * features;
  const bf16_t* in = x + offset;
  float sum_squares = 0.0f;
  for (int i = lane; i < features; i += 32) {
    const float value = to_f(in[i]);
    sum_squares += value * value;
  }
  for (int o = 16; o > 0; o /= 2) sum_squares += __shfl_xor_sync(0xFFFFFFFFu, sum_squares, o);
  const float inverse_rms = rsqrtf(sum_squares / static_cast<float>(features) + eps);
  bf16_t* out = y + offset;
  bool bad = false;
  for (int i = lane; i < features; i += 32) {
    const float value = to_f(weight[i]) * round_b(to_f(in[i]) * inverse_rms);
    out[i] = to_b(value);
    bad |= !isfinite(value);
  }
  if (bad) *flag = 1;
}

__global__ void add_row_bias_kernel(bf16_t* y, long long rows, int out, const bf16_t* bias) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < rows * out) y[i] = to_b(to_f(y[i]) + to_f(bias[i % out]));
}

// One thread per output element (p, h, e < padded_dim). transformers: q·cos + rotate_half(q)·sin with cos/sin cast to
// the model dtype, each product and the sum rounded to bf16; rotate_half(x) = cat(−x[d/2:], x[:d/2]).
__global__ void heads_first_kernel(const bf16_t* x, int length, int heads, long long row_stride, int head_dim,
                                   int padded_dim, const float* inverse_frequencies, bool rotate, bf16_t* y,
                                   int* flag) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(length) * heads * padded_dim) return;
  const int e = static_cast<int>(i % padded_dim);
  const long long pair = i / padded_dim;
  const int h = static_cast<int>(pair % heads);
  const int p = static_cast<int>(pair / heads);
  bf16_t* out = y + (static_cast<long long>(h) * length + p) * padded_dim + e;
  if (e >= head_dim) {
    *out = to_b(0.0f);
    return;
  }
  const bf16_t* in = x + static_cast<long long>(p) * row_stride + static_cast<long long>(h) * head_dim;
  float value = to_f(in[e]);
  if (rotate) {
    const int half = head_dim / 2;
    const int k = e < half ? e : e - half;
    const float angle = static_cast<float>(p) * inverse_frequencies[k];
    const float c = round_b(cosf(angle)), s = round_b(sinf(angle));
    const float rotated = e < half ? -to_f(in[e + half]) : to_f(in[e - half]);
    value = round_b(value * c) + round_b(rotated * s);
  }
  *out = to_b(value);
  flag_if_bad(value, flag);
}

// One thread per (key j, bias head n). torch's softplus threshold is 20 (x itself above it).
__global__ void dynamic_bias_kernel(const bf16_t* dt, int length, int bias_heads, const bf16_t* A, bool exp_formula,
                                    float* beta, int* flag) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(length) * bias_heads) return;
  const int n = static_cast<int>(i % bias_heads);
  const long long j = i / bias_heads;
  const float x = to_f(dt[i]);
  const float softplus = round_b(x > 20.0f ? x : log1pf(expf(x)));
  const float scaled = round_b(to_f(A[n]) * softplus);
  float value = exp_formula ? round_b(expf(scaled)) : scaled;
  if (!isfinite(value)) {
    *flag = 1;
    value = 0.0f;
  }
  beta[n * static_cast<long long>(length) + j] = value;
}

__global__ void heads_to_tokens_kernel(const bf16_t* o, int length, int heads, int head_dim, int padded_dim,
                                       bf16_t* context, int* flag) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(length) * heads * head_dim) return;
  const int e = static_cast<int>(i % head_dim);
  const long long pair = i / head_dim;
  const int h = static_cast<int>(pair % heads);
  const long long p = pair / heads;
  const bf16_t value = o[(static_cast<long long>(h) * length + p) * padded_dim + e];
  context[i] = value;
  flag_if_bad(to_f(value), flag);
}

__global__ void residual_kernel(bf16_t* x, const bf16_t* residual_weight, const bf16_t* update, long long rows,
                                int features, int* flag) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * features) return;
  const float value = round_b(to_f(residual_weight[i % features]) * to_f(x[i])) + to_f(update[i]);
  x[i] = to_b(value);
  flag_if_bad(value, flag);
}

// silu(x) = x·sigmoid(x), evaluated in fp32 and rounded once (torch's bf16 silu); the product rounded again.
__global__ void silu_gate_kernel(const bf16_t* gate_up, long long rows, int intermediate, bf16_t* out, int* flag) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * intermediate) return;
  const long long p = i / intermediate, c = i % intermediate;
  const float gate = to_f(gate_up[p * 2 * intermediate + c]), up = to_f(gate_up[p * 2 * intermediate + intermediate + c]);
  const float value = round_b(gate / (1.0f + expf(-gate))) * up;
  out[i] = to_b(value);
  flag_if_bad(value, flag);
}

template <class T>
__global__ void flag_non_finite_kernel(const T* values, long long count, int* flag) {
  bool bad = false;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    bad |= !isfinite(static_cast<float>(values[i]));
  if (bad) *flag = 1;
}

}  // namespace

void launch_embed_rows_bf16(const bf16_t* embed, const std::int32_t* ids, int length, int hidden, bf16_t* x,
                            cudaStream_t stream) {
  const long long total = static_cast<long long>(length) * hidden;
  if (total == 0) return;
  embed_rows_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(embed, ids, length, hidden, x);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_rms_norm_bf16(const bf16_t* x, long long rows, int features, int group, long long stride,
                          const bf16_t* weight, float eps, bf16_t* y, int* flag, cudaStream_t stream) {
  if (rows == 0) return;
  rms_norm_kernel<<<blocks_for(rows, kThreads / 32), kThreads, 0, stream>>>(x, rows, features, group, stride, weight,
                                                                            eps, y, flag);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_add_row_bias_bf16(bf16_t* y, long long rows, int out, const bf16_t* bias, cudaStream_t stream) {
  if (rows * out == 0) return;
  add_row_bias_kernel<<<blocks_for(rows * out, kThreads), kThreads, 0, stream>>>(y, rows, out, bias);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_heads_first_bf16(const bf16_t* x, int length, int heads, long long row_stride, int head_dim,
                             int padded_dim, const float* inverse_frequencies, bool rotate, bf16_t* y, int* flag,
                             cudaStream_t stream) {
  const long long total = static_cast<long long>(length) * heads * padded_dim;
  if (total == 0) return;
  heads_first_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(x, length, heads, row_stride, head_dim,
                                                                           padded_dim, inverse_frequencies, rotate, y,
                                                                           flag);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_dynamic_bias_bf16(const bf16_t* dt, int length, int bias_heads, const bf16_t* A, bool exp_formula,
                              float* beta, int* flag, cudaStream_t stream) {
  const long long total = static_cast<long long>(length) * bias_heads;
  if (total == 0) return;
  dynamic_bias_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(dt, length, bias_heads, A, exp_formula,
                                                                            beta, flag);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_heads_to_tokens_bf16(const bf16_t* o, int length, int heads, int head_dim, int padded_dim, bf16_t* context,
                                 int* flag, cudaStream_t stream) {
  const long long total = static_cast<long long>(length) * heads * head_dim;
  if (total == 0) return;
  heads_to_tokens_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(o, length, heads, head_dim, padded_dim,
                                                                               context, flag);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_residual_bf16(bf16_t* x, const bf16_t* residual_weight, const bf16_t* update, long long rows, int features,
                          int* flag, cudaStream_t stream) {
  if (rows * features == 0) return;
  residual_kernel<<<blocks_for(rows * features, kThreads), kThreads, 0, stream>>>(x, residual_weight, update, rows,
                                                                                  features, flag);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_silu_gate_bf16(const bf16_t* gate_up, long long rows, int intermediate, bf16_t* out, int* flag,
                           cudaStream_t stream) {
  if (rows * intermediate == 0) return;
  silu_gate_kernel<<<blocks_for(rows * intermediate, kThreads), kThreads, 0, stream>>>(gate_up, rows, intermediate,
                                                                                       out, flag);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_flag_non_finite(const float* values, long long count, int* flag, cudaStream_t stream) {
  if (count == 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<long long>(1024, blocks_for(count, kThreads)));
  flag_non_finite_kernel<<<blocks, kThreads, 0, stream>>>(values, count, flag);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_flag_non_finite(const bf16_t* values, long long count, int* flag, cudaStream_t stream) {
  if (count == 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<long long>(1024, blocks_for(count, kThreads)));
  flag_non_finite_kernel<<<blocks, kThreads, 0, stream>>>(values, count, flag);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda::detail
