// Which compute backend runs: the CPU's (core/compute/cpu_backend.cpp) or the CUDA one (kernels/cuda_backend.h). The
// build compiles exactly one of backend_factory_cuda.cpp (with the kernels) and backend_factory_cpu_only.cpp (without),
// so nothing in engine/ or app/ needs to know at compile time whether CUDA is there: they ask the backend
// (unsupported_reason, status).
#pragma once

#include <memory>

#include "core/compute/compute_backend.h"

namespace dmascope::engine {

// Never null. Backend::Cuda in a build without the kernels is a backend whose unsupported_reason says so and whose
// every operation throws that reason.
std::unique_ptr<ComputeBackend> make_backend(Backend kind);

// One shared instance per kind (the backends keep no per-call state: each call makes its own runners and buffers), for
// the app's frame-by-frame status queries and the pipeline's worker.
const ComputeBackend& compute_backend(Backend kind);

}  // namespace dmascope::engine
