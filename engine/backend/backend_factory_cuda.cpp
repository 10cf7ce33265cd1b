// make_backend in a build with the CUDA kernels (engine/CMakeLists.txt picks this file or backend_factory_cpu_only.cpp).
#include "engine/backend/backend_factory.h"
#include "kernels/cuda_backend.h"

namespace dmascope::engine {

std::unique_ptr<ComputeBackend> make_backend(Backend kind) {
  return kind == Backend::Cuda ? cuda::make_cuda_backend() : make_cpu_backend();
}

}  // namespace dmascope::engine
