#include "kernels/cublas_loader.h"

#include <dlfcn.h>

#include "core/base/error.h"

// kernels/CMakeLists.txt sets both from the toolkit found at configure time.
#ifndef DMASCOPE_CUBLAS_SONAME
#error "DMASCOPE_CUBLAS_SONAME (e.g. \"libcublas.so.13\") must be defined"
#endif
#ifndef DMASCOPE_CUBLAS_PATH
#error "DMASCOPE_CUBLAS_PATH (the toolkit's libcublas.so.N) must be defined"
#endif

namespace dmascope::cuda {

namespace {

std::string dl_error() {
  const char* message = dlerror();
  return message ? message : "unknown dlopen error";
}

template <class Function>
void resolve(void* library, const std::string& path, const char* symbol, Function& function) {
  dlerror();  // clear a stale error: dlsym reports failure through dlerror
  void* address = dlsym(library, symbol);
  if (!address) {
    const std::string reason = dl_error();
    dlclose(library);
    fail("cuBLAS at {} lacks {} ({}); the kernels need the cuBLAS of the toolkit they were built with ({})", path,
         symbol, reason, DMASCOPE_CUBLAS_SONAME);
  }
  function = reinterpret_cast<Function>(address);
}

}  // namespace

std::vector<std::string> cublas_library_paths() { return {DMASCOPE_CUBLAS_SONAME, DMASCOPE_CUBLAS_PATH}; }

CublasFunctions load_cublas(const std::vector<std::string>& library_paths) {
  std::string reasons;
  for (const std::string& path : library_paths) {
    // RTLD_LOCAL: cuBLAS's symbols stay out of the global namespace, so they cannot interpose on anything else.
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      reasons += "\n  " + dl_error();  // glibc's message names the path
      continue;
    }
    CublasFunctions functions;
    resolve(library, path, "cublasCreate_v2", functions.create);
    resolve(library, path, "cublasDestroy_v2", functions.destroy);
    resolve(library, path, "cublasSetStream_v2", functions.set_stream);
    resolve(library, path, "cublasSetMathMode", functions.set_math_mode);
    resolve(library, path, "cublasSetWorkspace_v2", functions.set_workspace);
    resolve(library, path, "cublasSgemm_v2", functions.sgemm);
    resolve(library, path, "cublasGemmEx", functions.gemm_ex);
    return functions;  // the handle is never closed: cuBLAS handles may live until exit
  }
  fail("could not load cuBLAS ({}), which the CUDA backend needs; put the CUDA toolkit's lib folder on "
       "LD_LIBRARY_PATH. Tried:{}",
       DMASCOPE_CUBLAS_SONAME, reasons);
}

const CublasFunctions& cublas_functions() {
  // A static initialised by a throwing call is initialised again on the next call.
  static const CublasFunctions functions = load_cublas(cublas_library_paths());
  return functions;
}

namespace cublas {

cublasStatus_t create(cublasHandle_t* handle) { return cublas_functions().create(handle); }
cublasStatus_t destroy(cublasHandle_t handle) { return cublas_functions().destroy(handle); }
cublasStatus_t set_stream(cublasHandle_t handle, cudaStream_t stream) {
  return cublas_functions().set_stream(handle, stream);
}
cublasStatus_t set_math_mode(cublasHandle_t handle, cublasMath_t mode) {
  return cublas_functions().set_math_mode(handle, mode);
}
cublasStatus_t set_workspace(cublasHandle_t handle, void* workspace, size_t workspace_bytes) {
  return cublas_functions().set_workspace(handle, workspace, workspace_bytes);
}
cublasStatus_t sgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                     const float* alpha, const float* a, int lda, const float* b, int ldb, const float* beta, float* c,
                     int ldc) {
  return cublas_functions().sgemm(handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
cublasStatus_t gemm_ex(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                       const void* alpha, const void* a, cudaDataType a_type, int lda, const void* b,
                       cudaDataType b_type, int ldb, const void* beta, void* c, cudaDataType c_type, int ldc,
                       cublasComputeType_t compute_type, cublasGemmAlgo_t algo) {
  return cublas_functions().gemm_ex(handle, transa, transb, m, n, k, alpha, a, a_type, lda, b, b_type, ldb, beta, c,
                                    c_type, ldc, compute_type, algo);
}

}  // namespace cublas

}  // namespace dmascope::cuda
