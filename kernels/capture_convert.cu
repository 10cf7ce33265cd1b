#include "kernels/capture_convert.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "kernels/cuda_check.h"

namespace dmascope::cuda::detail {

namespace {

template <class From, class To>
__global__ void convert_kernel(const From* source, long long count, To* target) {
  for (long long n = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; n < count;
       n += static_cast<long long>(gridDim.x) * blockDim.x) {
    float value;
    if constexpr (sizeof(From) == 4) value = source[n];
    else value = __bfloat162float(source[n]);
    if constexpr (sizeof(To) == 2 && std::is_same_v<To, __half>) target[n] = __float2half_rn(value);
    else target[n] = __float2bfloat16_rn(value);
  }
}

template <class From, class To>
void launch(const void* source, long long count, void* target, cudaStream_t stream) {
  const int threads = 256;
  const long long blocks = (count + threads - 1) / threads;
  convert_kernel<<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), threads, 0, stream>>>(
      static_cast<const From*>(source), count, static_cast<To*>(target));
}

}  // namespace

void launch_convert_to_half(const void* source, CaptureType type, long long count, bool to_f16, void* target,
                            cudaStream_t stream) {
  if (count <= 0) return;
  if (type == CaptureType::F32)
    to_f16 ? launch<float, __half>(source, count, target, stream)
           : launch<float, __nv_bfloat16>(source, count, target, stream);
  else
    to_f16 ? launch<__nv_bfloat16, __half>(source, count, target, stream)
           : launch<__nv_bfloat16, __nv_bfloat16>(source, count, target, stream);
  DMASCOPE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace dmascope::cuda::detail
