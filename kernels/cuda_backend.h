// The CUDA implementation of the compute interface (core/compute/compute_backend.h): DogeForwardCuda for the forward,
// CudaCaptures for the heatmap's views, DmaRunner for the attention timing and the kernel's tile map. Only the engine's
// backend factory (engine/backend/backend_factory_cuda.cpp) includes this; everything else sees ComputeBackend.
#pragma once

#include <memory>

#include "core/compute/compute_backend.h"

namespace dmascope::cuda {

std::unique_ptr<ComputeBackend> make_cuda_backend();

}  // namespace dmascope::cuda
