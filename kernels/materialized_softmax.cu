// The materialized baseline's softmax: one head's scores [Lq, Lk] (fp32, from cuBLAS) → probabilities in the input
// precision, with scale, + β and the causal mask (bottom-right aligned). One CTA of 256 threads per query row.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "kernels/cuda_check.h"
#include "kernels/materialized_softmax.cuh"

namespace dmascope::cuda::detail {

namespace {

template <class T>
__global__ void materialized_softmax(const float* scores, const float* beta, int q_len, int key_len, float scale,
                                     T* probabilities) {
  const int row = blockIdx.x;
  const int position = key_len - q_len + row;
  const float* in = scores + static_cast<long long>(row) * key_len;
  T* out = probabilities + static_cast<long long>(row) * key_len;
  __shared__ float reduce[32];
  float local_max = -INFINITY;
  for (int j = threadIdx.x; j <= position; j += blockDim.x)
    local_max = fmaxf(local_max, in[j] * scale + (beta ? beta[j] : 0.0f));
  for (int o = 16; o > 0; o /= 2) local_max = fmaxf(local_max, __shfl_xor_sync(0xFFFFFFFFu, local_max, o));
  if (threadIdx.x % 32 == 0) reduce[threadIdx.x / 32] = local_max;
  __syncthreads();
  float row_max = -INFINITY;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) row_max = fmaxf(row_max, reduce[w]);
  __syncthreads();
  float local_sum = 0.0f;
  for (int j = threadIdx.x; j <= position; j += blockDim.x) local_sum += __expf(in[j] * scale + (beta ? beta[j] : 0.0f) - row_max);
  for (int o = 16; o > 0; o /= 2) local_sum += __shfl_xor_sync(0xFFFFFFFFu, local_sum, o);
  if (threadIdx.x % 32 == 0) reduce[threadIdx.x / 32] = local_sum;
  __syncthreads();
  float row_sum = 0.0f;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) row_sum += reduce[w];
  const float inverse = 1.0f / row_sum;
  for (int j = threadIdx.x; j < key_len; j += blockDim.x) {
    const float value = j <= position ? __expf(in[j] * scale + (beta ? beta[j] : 0.0f) - row_max) * inverse : 0.0f;
    if constexpr (std::is_same_v<T, __half>)
      out[j] = __float2half_rn(value);
    else
      out[j] = __float2bfloat16_rn(value);
  }
}

}  // namespace

void launch_materialized_softmax(const float* scores, const float* beta, int q_len, int key_len, float scale,
                                 void* probabilities, bool f16, cudaStream_t stream) {
  if (f16)
    materialized_softmax<__half><<<q_len, 256, 0, stream>>>(scores, beta, q_len, key_len, scale,
                                                            static_cast<__half*>(probabilities));
  else
    materialized_softmax<__nv_bfloat16><<<q_len, 256, 0, stream>>>(scores, beta, q_len, key_len, scale,
                                                                   static_cast<__nv_bfloat16*>(probabilities));
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda::detail
