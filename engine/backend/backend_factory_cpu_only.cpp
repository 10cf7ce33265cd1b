// make_backend in a build without the CUDA kernels (engine/CMakeLists.txt picks this file or backend_factory_cuda.cpp).
#include "engine/backend/backend_factory.h"

namespace dmascope::engine {

std::unique_ptr<ComputeBackend> make_backend(Backend kind) {
  if (kind == Backend::Cuda)
    return make_unavailable_backend(
        Backend::Cuda, "this build has no CUDA kernels (configured without a CUDA toolkit or with DMASCOPE_CUDA=OFF)");
  return make_cpu_backend();
}

}  // namespace dmascope::engine
