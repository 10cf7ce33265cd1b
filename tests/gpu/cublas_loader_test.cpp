// The kernels' cuBLAS, opened on first use (kernels/cublas_loader.h). Needs the kernels but no GPU, so it runs in CI:
// the toolkit's library loads from the paths the build recorded and every function the kernels call resolves by its
// exported name; a path that does not load, or a library that is not cuBLAS, gives an Error naming what was tried.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "kernels/cublas_loader.h"

namespace dmascope::cuda {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string load_error(const std::vector<std::string>& library_paths) {
  try {
    load_cublas(library_paths);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

void expect_every_function(const CublasFunctions& functions) {
  EXPECT_NE(functions.create, nullptr);
  EXPECT_NE(functions.destroy, nullptr);
  EXPECT_NE(functions.set_stream, nullptr);
  EXPECT_NE(functions.set_math_mode, nullptr);
  EXPECT_NE(functions.set_workspace, nullptr);
  EXPECT_NE(functions.sgemm, nullptr);
  EXPECT_NE(functions.gemm_ex, nullptr);
}

TEST(CublasLoader, TheToolkitsCublasLoadsAndEveryFunctionTheKernelsCallResolves) {
  expect_every_function(cublas_functions());
}

// The soname alone may not be on the library path; the full path recorded at configure time must load by itself.
// Binaries carried to another machine (a GPU machine with the toolkit elsewhere) find cuBLAS by its soname there.
TEST(CublasLoader, TheFullPathRecordedAtConfigureLoadsByItself) {
  const std::vector<std::string> paths = cublas_library_paths();
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths.front().rfind("libcublas.so.", 0), 0u) << paths.front();
  if (!std::filesystem::exists(paths.back()))
    GTEST_SKIP() << "the toolkit recorded at configure time is not on this machine: " << paths.back();
  expect_every_function(load_cublas({paths.back()}));
}

TEST(CublasLoader, ALibraryThatDoesNotLoadIsAnErrorNamingEachPathTried) {
  const std::string message = load_error({"/nonexistent/libcublas.so.13", "libcublas-not-installed.so.13"});
  EXPECT_THAT(message, AllOf(HasSubstr("could not load cuBLAS"), HasSubstr("/nonexistent/libcublas.so.13"),
                             HasSubstr("libcublas-not-installed.so.13"), HasSubstr("LD_LIBRARY_PATH")));
}

// libm loads everywhere and has none of cuBLAS's functions.
TEST(CublasLoader, ALibraryWithoutCublasFunctionsIsAnErrorNamingTheSymbol) {
  const std::string message = load_error({"libm.so.6"});
  EXPECT_THAT(message, AllOf(HasSubstr("libm.so.6"), HasSubstr("lacks cublasCreate_v2")));
}

}  // namespace
}  // namespace dmascope::cuda
