#include "kernels/rows_to_bf16.cuh"

#include "kernels/cuda_check.h"

namespace dmascope::cuda::detail {

namespace {

__global__ void rows_to_bf16_kernel(const float* x, long long rows, int width, int padded_width, __nv_bfloat16* y) {
  const long long total = rows * padded_width;
  for (long long n = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; n < total;
       n += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long r = n / padded_width;
    const int c = static_cast<int>(n % padded_width);
    y[n] = c < width ? __float2bfloat16_rn(x[r * width + c]) : __float2bfloat16_rn(0.0f);
  }
}

}  // namespace

void launch_rows_to_bf16(const float* x, long long rows, int width, int padded_width, __nv_bfloat16* y,
                         cudaStream_t stream) {
  const long long total = rows * padded_width;
  if (total == 0) return;
  const int threads = 256;
  const long long blocks = (total + threads - 1) / threads;
  rows_to_bf16_kernel<<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), threads, 0, stream>>>(
      x, rows, width, padded_width, y);
  DMASCOPE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace dmascope::cuda::detail
