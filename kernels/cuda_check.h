// One way to check CUDA calls: a failed call throws dmascope::Error naming the call, file and line. Never exit() or
// abort(): the app catches errors at its boundary and falls back to the CPU backend. This header stays free of fmt
// (nvcc cannot compile its consteval format checks), so .cu files can use it; the throwing lives in cuda_errors.cpp.
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace dmascope::cuda::detail {
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_kernel_error(const std::string& message);
}  // namespace dmascope::cuda::detail

#define DMASCOPE_CUDA_CHECK(call)                                                                 \
  do {                                                                                            \
    const cudaError_t dmascope_status = (call);                                                   \
    if (dmascope_status != cudaSuccess)                                                           \
      ::dmascope::cuda::detail::throw_cuda_error(dmascope_status, #call, __FILE__, __LINE__);     \
  } while (0)

// After every launch: catches bad launch configurations at once (execution errors surface at the next sync).
#define DMASCOPE_CUDA_CHECK_LAUNCH() DMASCOPE_CUDA_CHECK(cudaGetLastError())
