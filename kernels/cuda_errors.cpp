#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace dmascope::cuda::detail {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  fail("CUDA error {} ({}) in {} at {}:{}", cudaGetErrorName(status), cudaGetErrorString(status), call, file, line);
}

void throw_kernel_error(const std::string& message) { throw Error(message); }

}  // namespace dmascope::cuda::detail
