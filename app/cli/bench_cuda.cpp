// The CUDA side of `dmascope-cli bench` (compiled to a stub without the kernels).
#include <cmath>
#include <random>

#include "app/cli/bench.h"
#include "core/attention/attention_cpu.h"
#include "core/mask/bias_patterns.h"
#include "core/base/error.h"
#include "core/formats/tensor.h"

#ifdef DMASCOPE_HAS_CUDA
#include "kernels/dma_cuda.h"
#include "kernels/kernel_profiling.h"
#endif
#ifdef DMASCOPE_KERNEL_PROFILING
#include <cstdlib>
#endif

namespace dmascope::cli {

#ifdef DMASCOPE_HAS_CUDA

bool cuda_backend_built() { return true; }

namespace {

// Uniform in [−√3, √3) (unit variance) from a xorshift generator: fast enough for the 0.5 G elements of a 128K-token,
// 32-head input, where std::normal_distribution would take most of a device call.
#ifdef DMASCOPE_KERNEL_PROFILING
// A profiling build (-DDMASCOPE_KERNEL_PROFILING=ON) takes the chunked mask build's switches from the environment:
// DMASCOPE_CHUNKED_STOP_AFTER=n stops the kernel after stage n (the mask is then INCOMPLETE: timings only) and
// DMASCOPE_CHUNKED_TRACE=n prints the n-th chunked launch's per-stage times (kernels/kernel_profiling.h).
void apply_chunked_profiling_environment() {
  cuda::ChunkedBuildProfiling profiling;
  if (const char* value = std::getenv("DMASCOPE_CHUNKED_STOP_AFTER")) profiling.stop_after_stage = std::atoi(value);
  if (const char* value = std::getenv("DMASCOPE_CHUNKED_TRACE")) profiling.trace_launch = std::atoi(value);
  cuda::set_chunked_build_profiling(profiling);
}
#endif

cuda::DeviceBuffer random_device_tensor(std::int64_t count, cuda::Precision precision, std::mt19937& rng) {
  std::uint64_t state = (static_cast<std::uint64_t>(rng()) << 32) | rng() | 1;
  std::vector<std::uint16_t> bits(static_cast<std::size_t>(count));
  for (auto& value : bits) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const float uniform = static_cast<float>(state >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    const float x = (uniform * 2.0f - 1.0f) * 1.7320508f;
    value = precision == cuda::Precision::BF16 ? f32_to_bf16(x).bits : f32_to_f16(x).bits;
  }
  cuda::DeviceBuffer buffer(bits.size() * 2);
  buffer.upload(bits.data(), bits.size() * 2);
  return buffer;
}

double spread_of(const std::vector<double>& values) {
  return *std::max_element(values.begin(), values.end()) - *std::min_element(values.begin(), values.end());
}

}  // namespace

BenchResult run_bench_cuda(const BenchSetting& s, double cached_dense_ms) {
  const cuda::DeviceInfo info = cuda::device_info();
  if (!info.available) fail("bench: --backend cuda, but no CUDA GPU (sm_80+) is available");
  BenchResult result;
#ifdef DMASCOPE_KERNEL_PROFILING
  apply_chunked_profiling_environment();
#endif
  result.device = info.name;
  cuda::AttentionShape shape;
  shape.batch = s.batch;
  shape.q_heads = s.q_heads;
  shape.kv_heads = shape.bias_heads = s.kv_heads;
  shape.q_len = shape.key_len = s.length;
  shape.head_dim = s.head_dim;
  if (s.precision != "bf16" && s.precision != "fp16") fail("bench: --precision must be bf16 or fp16");
  shape.precision = s.precision == "bf16" ? cuda::Precision::BF16 : cuda::Precision::F16;
  const std::int64_t L = s.length;
  std::mt19937 rng(static_cast<std::uint32_t>(s.seed + 1));
  auto q = random_device_tensor(s.batch * s.q_heads * L * s.head_dim, shape.precision, rng);
  auto k = random_device_tensor(s.batch * s.kv_heads * L * s.head_dim, shape.precision, rng);
  auto v = random_device_tensor(s.batch * s.kv_heads * L * s.head_dim, shape.precision, rng);
  const auto beta_host = bench_bias(s);
  cuda::DeviceBuffer beta(beta_host.size() * 4), death(beta_host.size() * 4), out(q.bytes());
  beta.upload(beta_host.data(), beta_host.size() * 4);
  cuda::DmaRunner runner(shape, s.window, MaskVariant::PerRowTopK, s.kernel);
  result.forward_kernel = runner.forward_kernel_name();

  const auto mask_times = cuda::time_ms([&] { runner.build_mask(beta.as<float>(), death.as<std::int32_t>()); },
                                        s.warmup, s.repeats);
  const auto mask_and_gather_times = cuda::time_ms(
      [&] { runner.build_mask_and_gather_lists(beta.as<float>(), death.as<std::int32_t>()); },
      s.warmup, s.repeats);
  const auto launched_times = cuda::time_ms(
      [&] {
        runner.build_mask(beta.as<float>(), death.as<std::int32_t>());
        runner.forward(q.get(), k.get(), v.get(), beta.as<float>(), death.as<std::int32_t>(), out.get());
      },
      s.warmup, s.repeats);
  const auto dma_times = cuda::time_ms(  // the same work as one CUDA graph: what an application would run
      [&] { runner.mask_and_forward(q.get(), k.get(), v.get(), beta.as<float>(), death.as<std::int32_t>(), out.get()); },
      s.warmup, s.repeats);
  result.dma_launched_ms = median_of(launched_times);
  result.mask_build_ms = median_of(mask_times);
  result.mask_and_gather_ms = median_of(mask_and_gather_times);
  result.dma_ms = median_of(dma_times);
  result.dma_spread_ms = spread_of(dma_times);
  result.executed_pairs = static_cast<double>(runner.executed_pairs()) * static_cast<double>(s.batch);
  if (cached_dense_ms >= 0) {
    result.dense_ms = cached_dense_ms;
  } else {  // the dense kernel: plain causal attention (no bias), the baseline a user would otherwise run
    const auto dense_times = cuda::time_ms([&] { runner.dense_forward(q.get(), k.get(), v.get(), nullptr, out.get()); },
                                           s.warmup, s.repeats);
    result.dense_ms = median_of(dense_times);
    result.dense_spread_ms = spread_of(dense_times);
    if (cuda::DmaRunner::materialized_workspace_bytes(shape) <= (std::size_t{4} << 30))
      result.materialized_ms = median_of(cuda::time_ms(
          [&] { runner.materialized_forward(q.get(), k.get(), v.get(), nullptr, out.get()); }, 1, std::min(s.repeats, 3)));
  }

  // Densities from the mask the timed runs built (not timed).
  std::vector<std::int32_t> death_host(beta_host.size());
  runner.synchronize();
  death.download(death_host.data(), death_host.size() * 4);
  add_mask_densities(s, death_host, result);
  return result;
}

#else

bool cuda_backend_built() { return false; }

BenchResult run_bench_cuda(const BenchSetting&, double) {
  fail("bench: --backend cuda, but this dmascope-cli was built without CUDA (no toolkit, or -DDMASCOPE_CUDA=OFF)");
}

#endif

}  // namespace dmascope::cli
