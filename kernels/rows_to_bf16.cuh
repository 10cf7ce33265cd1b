// fp32 rows [rows, width] → bf16 rows [rows, padded_width], rounded to nearest even (core's f32_to_bf16, the CPU
// twin), columns width … padded_width − 1 zero: how the mask lab hands a head's fp32 q, k and v to the bf16 DMA
// kernels, whose head dims are 64 and 128 (a zero-padded head attends as the unpadded one at the same scale).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace dmascope::cuda::detail {

void launch_rows_to_bf16(const float* x, long long rows, int width, int padded_width, __nv_bfloat16* y,
                         cudaStream_t stream);

}  // namespace dmascope::cuda::detail
