// The backend factory's supported? answer (engine/backend/backend_factory.h): the CPU is always there; CUDA, where this
// build or machine cannot run it, is a backend that says why and refuses every operation with that reason, never a
// crash. This machine may or may not have a GPU: the CUDA case checks whichever answer it gets.
#include <gtest/gtest.h>

#include <atomic>

#include "core/base/error.h"
#include "core/compute/compute_backend.h"
#include "engine/backend/backend_factory.h"
#include "engine/timing/layer_timing.h"

namespace dmascope {
namespace {

AttentionInputs small_inputs() {
  AttentionInputs shape;
  shape.q_heads = 2;
  shape.kv_heads = shape.bias_heads = 1;
  shape.window = 8;
  return engine::synthetic_attention_inputs(shape, 64, BiasPattern::Random, 3);
}

TEST(BackendFactory, TheCpuBackendIsAlwaysSupported) {
  const auto cpu = engine::make_backend(Backend::Cpu);
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->kind(), Backend::Cpu);
  EXPECT_EQ(cpu->unsupported_reason(), "");
  EXPECT_TRUE(cpu->status().available);
  EXPECT_NE(cpu->status().name.find("CPU"), std::string::npos);
}

TEST(BackendFactory, AnUnavailableBackendSaysWhyAndRefusesEveryOperationWithThatReason) {
  const auto backend = make_unavailable_backend(Backend::Cuda, "this build has no CUDA kernels");
  EXPECT_EQ(backend->kind(), Backend::Cuda);
  EXPECT_EQ(backend->unsupported_reason(), "this build has no CUDA kernels");
  EXPECT_FALSE(backend->status().available);
  AttentionTimingOptions options;
  const std::atomic<bool> cancel{false};
  try {
    backend->time_attention(small_inputs(), options, cancel);
    FAIL() << "timing on an unavailable backend must throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("this build has no CUDA kernels"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("cuda"), std::string::npos) << error.what();
  }
  EXPECT_THROW(backend->instrument_attention(small_inputs(), Precision::BF16), Error);
}

TEST(BackendFactory, CudaIsEitherUsableOrSaysClearlyWhyNot) {
  const auto cuda = engine::make_backend(Backend::Cuda);
  ASSERT_NE(cuda, nullptr);
  EXPECT_EQ(cuda->kind(), Backend::Cuda);
  const std::string reason = cuda->unsupported_reason();
  std::string why_not;
  EXPECT_EQ(engine::cuda_backend_available(&why_not), reason.empty());
  EXPECT_EQ(why_not, reason);
  if (!reason.empty()) {
    // A CPU-only build ("this build has no CUDA kernels ...") or a CUDA build on a machine without a GPU.
    EXPECT_NE(reason.find("CUDA"), std::string::npos) << reason;
    EXPECT_FALSE(cuda->status().available);
    EXPECT_FALSE(engine::query_gpu_status().available);
    AttentionTimingOptions options;
    const std::atomic<bool> cancel{false};
    try {
      cuda->time_attention(small_inputs(), options, cancel);
      FAIL() << "timing on CUDA without CUDA must throw";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(reason), std::string::npos) << error.what();
    }
  } else {
    EXPECT_TRUE(cuda->status().available);
    EXPECT_FALSE(cuda->status().name.empty());
  }
}

TEST(BackendFactory, TheCudaBackendRefusesFp32WithAReason) {
  const auto cuda = engine::make_backend(Backend::Cuda);
  AttentionTimingOptions options;
  options.precision = Precision::F32;
  const std::atomic<bool> cancel{false};
  try {
    cuda->time_attention(small_inputs(), options, cancel);
    FAIL() << "fp32 is not a CUDA attention precision";
  } catch (const Error& error) {
    const std::string what = error.what();
    EXPECT_TRUE(what.find("fp32") != std::string::npos || what.find(cuda->unsupported_reason()) != std::string::npos)
        << what;
  }
}

TEST(BackendFactory, PrecisionNamesRoundTripAndTheSessionNamesStillRead) {
  for (Precision precision : {Precision::F32, Precision::BF16, Precision::F16})
    EXPECT_EQ(precision_from_name(precision_name(precision)), precision);
  EXPECT_EQ(precision_name(Precision::F16), "fp16");
  EXPECT_EQ(precision_name(Precision::BF16), "bf16");
  EXPECT_THROW(precision_from_name("half"), Error);
  EXPECT_EQ(backend_from_name(backend_name(Backend::Cuda)), Backend::Cuda);
  EXPECT_THROW(backend_from_name("tpu"), Error);
}

}  // namespace
}  // namespace dmascope
