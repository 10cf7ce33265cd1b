// Converts a forward's kept q/k/v (fp32 or bf16, kernels/logit_view.cuh's CaptureType) to the timing precision
// (bf16 or fp16) on the device, so that timing a layer of the app's forward copies nothing to the host. Rounds to
// nearest even, as the host path's f32_to_bf16 / f32_to_f16 (core/formats/tensor.h), its twins.
#pragma once

#include <cuda_runtime.h>

#include "kernels/logit_view.cuh"

namespace dmascope::cuda::detail {

void launch_convert_to_half(const void* source, CaptureType type, long long count, bool to_f16, void* target,
                            cudaStream_t stream);

}  // namespace dmascope::cuda::detail
