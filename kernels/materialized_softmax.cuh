// Softmax step of the materialized (cuBLAS) attention baseline; see materialized_softmax.cu.
#pragma once

#include <cuda_runtime.h>

namespace dmascope::cuda::detail {

void launch_materialized_softmax(const float* scores, const float* beta, int q_len, int key_len, float scale,
                                 void* probabilities, bool f16, cudaStream_t stream);

}  // namespace dmascope::cuda::detail
