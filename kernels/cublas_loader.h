// cuBLAS, opened with dlopen the first time a kernel asks for it rather than linked. Linking libcublas makes every
// process that holds the kernels (the CLI, the app, each test process) pay libcublasLt's static initialisation at
// start-up, about half a second, even when it never touches the GPU; only the GPU forwards, the materialized attention
// baseline and the lab's metrics call cuBLAS. <cublas_v2.h> is included for its types and enums alone: call the
// functions through dmascope::cuda::cublas below, never the cublas* declarations of the header (nothing links them).
#pragma once

#include <cublas_v2.h>

#include <string>
#include <vector>

namespace dmascope::cuda {

// The cuBLAS entry points the kernels call, resolved by their exported names (<cublas_v2.h> maps cublasCreate and
// others to these _v2 symbols with macros).
struct CublasFunctions {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSetWorkspace_v2) set_workspace = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  // Spelled out: <cublas_v2.h> overloads cublasGemmEx with an inline C++ shim taking a cudaDataType compute type.
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                            cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
};

// Where the kernels look for cuBLAS, in order: the soname of the toolkit they were built with (found through
// LD_LIBRARY_PATH, the run path and the loader's cache), then that library's full path in the toolkit at configure
// time (the toolkit's lib folder is often on none of those).
std::vector<std::string> cublas_library_paths();

// Opens the first of `library_paths` that dlopen can load and resolves CublasFunctions from it. Throws Error naming
// each path with dlerror's reason when none loads, or the library and the symbol when one lacks a function. The
// library stays loaded for the life of the process.
CublasFunctions load_cublas(const std::vector<std::string>& library_paths);

// cuBLAS from cublas_library_paths(), loaded on the first call (thread-safe); a failed load throws, and the next call
// tries again.
const CublasFunctions& cublas_functions();

// The cuBLAS functions the kernels call, same parameters, loading the library on first use. Not named like cuBLAS's
// own: those are visible too (argument-dependent lookup on cublasHandle_t), and a call would be ambiguous.
namespace cublas {
cublasStatus_t create(cublasHandle_t* handle);
cublasStatus_t destroy(cublasHandle_t handle);
cublasStatus_t set_stream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t set_math_mode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t set_workspace(cublasHandle_t handle, void* workspace, size_t workspace_bytes);
cublasStatus_t sgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                     const float* alpha, const float* a, int lda, const float* b, int ldb, const float* beta, float* c,
                     int ldc);
cublasStatus_t gemm_ex(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                       const void* alpha, const void* a, cudaDataType a_type, int lda, const void* b,
                       cudaDataType b_type, int ldb, const void* beta, void* c, cudaDataType c_type, int ldc,
                       cublasComputeType_t compute_type, cublasGemmAlgo_t algo);
}  // namespace cublas

}  // namespace dmascope::cuda
