// One definition of DMA time on the GPU: the Timing view's service (engine/timing/layer_timing.h, with the app's own
// timing options) and `dmascope-cli bench` time the same shape's DMA — the mask build and the forward as the one CUDA
// graph DmaRunner::mask_and_forward replays — and agree within noise. Skips without a GPU.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <string>

#include "engine/timing/bench_run.h"
#include "engine/timing/layer_timing.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

struct ServiceBenchShape {
  std::int64_t length, window, q_heads, kv_heads, head_dim;
};

class CliBenchGpu : public ::testing::TestWithParam<ServiceBenchShape> {};

TEST_P(CliBenchGpu, TheTimingServicesDmaMedianIsWithinNoiseOfBenchs) {
  std::string why_not;
  if (!engine::cuda_backend_available(&why_not)) GTEST_SKIP() << why_not;
  const ServiceBenchShape shape = GetParam();
  std::string output;
  const std::string command =
      testing::cli_path().string() +
      fmt::format(" bench --backend cuda --len {} --window {} --heads {}/{} --dim {} --seed 3 --repeats 30 --warmup 5"
                  " --json",
                  shape.length, shape.window, shape.q_heads, shape.kv_heads, shape.head_dim);
  ASSERT_EQ(testing::run_command(command, output), 0) << output;
  const auto bench = nlohmann::json::parse(output.substr(output.find('{')));

  engine::BenchSetting setting;
  setting.backend = Backend::Cuda;
  setting.length = shape.length;
  setting.window = shape.window;
  setting.q_heads = shape.q_heads;
  setting.kv_heads = shape.kv_heads;
  setting.head_dim = shape.head_dim;
  setting.seed = 3;
  // The Timing view's options (its warm-up, repeats and baselines), the bench's inputs.
  engine::TimingOptions options;
  options.backend = Backend::Cuda;
  options.precision = Precision::BF16;
  options.warmup = 5;
  options.repeats = 30;
  const std::atomic<bool> cancel{false};
  const LayerTiming timing = engine::time_attention(engine::bench_inputs(setting), options, cancel);
  ASSERT_TRUE(timing.dma_total.measured);
  const double service_ms = timing.dma_total_ms(), bench_ms = bench.at("dma_ms").get<double>();
  std::printf("DMA at L %lld, w %lld, %lld/%lld, d%lld: Timing service %.4f ms (spread %.4f), bench %.4f ms (spread "
              "%.4f) on %s\n",
              static_cast<long long>(shape.length), static_cast<long long>(shape.window),
              static_cast<long long>(shape.q_heads), static_cast<long long>(shape.kv_heads),
              static_cast<long long>(shape.head_dim), service_ms, timing.dma_total.spread_ms, bench_ms,
              bench.at("dma_spread_ms").get<double>(), timing.device.c_str());
  // Same work, separate processes: within 25% (plus 10 µs of launch jitter) of each other.
  EXPECT_NEAR(service_ms, bench_ms, 0.25 * bench_ms + 0.01);
  EXPECT_EQ(bench.at("forward_kernel").get<std::string>(), timing.forward_kernel);
  EXPECT_DOUBLE_EQ(bench.at("token_density").get<double>(), timing.token_density);
  // The mask build alone is its own line, below the DMA time that includes it.
  EXPECT_LT(timing.mask_build.median_ms, service_ms);
  EXPECT_LT(bench.at("mask_build_ms").get<double>(), bench_ms);
}

// A small shape, and the two shapes the README's performance section quotes.
INSTANTIATE_TEST_SUITE_P(Shapes, CliBenchGpu,
                         ::testing::Values(ServiceBenchShape{16384, 256, 2, 1, 64},
                                           ServiceBenchShape{32768, 1024, 2, 1, 64},
                                           ServiceBenchShape{32768, 2048, 32, 8, 128}),
                         [](const auto& info) {
                           const ServiceBenchShape& s = info.param;
                           return fmt::format("L{}_w{}_H{}x{}_d{}", s.length, s.window, s.q_heads, s.kv_heads,
                                              s.head_dim);
                         });

}  // namespace
}  // namespace dmascope
