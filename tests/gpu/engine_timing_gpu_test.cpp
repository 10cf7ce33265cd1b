// The Timing view's measurements on real pipeline results (engine/timing/layer_timing.h), without a window: the CPU
// variants everywhere, and on a GPU the CUDA timing in bf16 and fp16 with the materialized cuBLAS baseline, the
// kernel's own tile statuses against the CPU tile map at 64×64, per-CTA times, and both sweeps. The GPU tests skip
// themselves without a GPU; they also print what they measured.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

#include "engine/timing/kernel_tile_grid.h"
#include "engine/timing/layer_timing.h"
#include "engine/pipeline/pipeline_compute.h"
#include "engine/timing/sweep_points.h"
#include "engine/timing/timing_csv.h"
#include "core/compute/timing_math.h"
#include "core/base/error.h"

namespace dmascope::engine {
namespace {

std::shared_ptr<PipelineResult> compute(const std::string& model_dir, std::int64_t length, Backend backend) {
  PipelineSettings settings;
  settings.model_dir = model_dir;
  settings.toy = ToySequenceKind::Random;
  settings.length = length;
  settings.tile_size = 16;
  settings.backend = backend;
  ModelCache models;
  ComputeProgress progress;
  std::atomic<bool> cancel{false};
  auto result = compute_pipeline_result(settings, models, progress, cancel);
  result->generation = 1;
  return result;
}

// The repository root: $DMASCOPE_SOURCE_DIR when set (a copy of the tree on another machine), else the build's.
std::string source_dir() {
  const char* from_env = std::getenv("DMASCOPE_SOURCE_DIR");
  return from_env && *from_env ? from_env : DMASCOPE_SOURCE_DIR;
}
std::string toy_mix_dir() { return source_dir() + "/assets/models/doge-toy-mix"; }
std::string tiny_random_dir() { return source_dir() + "/assets/models/doge-tiny-random"; }

void print_timing(const char* what, const LayerTiming& t) {
  std::printf("%s · %s · L %lld · w %lld · d %lld · Hq %lld · token density %.4f · tile density %.4f\n", what,
              t.device.c_str(), static_cast<long long>(t.length), static_cast<long long>(t.window),
              static_cast<long long>(t.head_dim), static_cast<long long>(t.q_heads), t.token_density, t.tile_density);
  auto line = [&](const char* name, const TimedVariant& v) {
    if (!v.measured) {
      std::printf("  %-14s skipped: %s\n", name, v.skipped_why.c_str());
      return;
    }
    std::printf("  %-14s %9.4f ms (spread %.4f) · executed %.3f TFLOP/s · useful %.3f TFLOP/s\n", name, v.median_ms,
                v.spread_ms, attention_tflops_per_second(v.executed_pairs, t.head_dim, v.median_ms),
                attention_tflops_per_second(v.useful_pairs, t.head_dim, v.median_ms));
  };
  line("mask build", t.mask_build);
  line("DMA kernel", t.dma);
  line("DMA incl. mask", t.dma_incl_mask());
  line("dense", t.dense);
  line("materialized", t.materialized);
  std::printf("  speedup vs dense %.2fx · vs materialized %.2fx · ideal %.2fx\n", t.speedup(), t.speedup_vs_materialized(),
              t.ideal_speedup());
}

void expect_consistent(const LayerTiming& t) {
  const double causal = causal_pairs(t.length, t.length) * static_cast<double>(t.q_heads);
  for (const TimedVariant* v : {&t.mask_build, &t.dma, &t.dense}) {
    EXPECT_TRUE(v->measured);
    EXPECT_GT(v->median_ms, 0);
    EXPECT_GE(v->spread_ms, 0);
  }
  EXPECT_GT(t.dma.useful_pairs, 0);
  EXPECT_LE(t.dma.useful_pairs, t.dma.executed_pairs) << "the kernel computes at least the kept pairs";
  EXPECT_NEAR(t.token_density, t.dma.useful_pairs / causal, 1e-12);
  EXPECT_DOUBLE_EQ(t.dense.useful_pairs, causal);
  EXPECT_GE(t.dense.executed_pairs, causal);
}

TEST(AppTimingCpu, LayerTimingHasTheThreeVariantsWithConsistentPairs) {
  const auto result = compute(tiny_random_dir(), 256, Backend::Cpu);
  TimingOptions options = timing_options_for(result->settings);
  options.cpu_budget_ms = 50;
  std::atomic<bool> cancel{false};
  const LayerTiming t = time_layer(*result, 1, options, cancel);
  print_timing("CPU layer 1", t);
  EXPECT_FALSE(t.on_gpu);
  EXPECT_NE(t.device.find("fp32"), std::string::npos);
  EXPECT_EQ(t.layer, 1);
  expect_consistent(t);
  ASSERT_TRUE(t.materialized.measured) << t.materialized.skipped_why;
  EXPECT_DOUBLE_EQ(t.materialized.useful_pairs, t.dense.useful_pairs);
  EXPECT_GT(t.tile_density, 0);
}

TEST(AppTimingCpu, MaterializedIsSkippedWithAReasonWhenItDoesNotFit) {
  const auto result = compute(tiny_random_dir(), 128, Backend::Cpu);
  TimingOptions options = timing_options_for(result->settings);
  options.cpu_budget_ms = 10;
  options.cpu_materialized_max_bytes = 1000;
  std::atomic<bool> cancel{false};
  const LayerTiming t = time_layer(*result, 0, options, cancel);
  EXPECT_FALSE(t.materialized.measured);
  EXPECT_NE(t.materialized.skipped_why.find("GiB"), std::string::npos) << t.materialized.skipped_why;
  EXPECT_NE(layer_timing_csv(t).find("materialized,0,"), std::string::npos);
}

TEST(AppTimingCpu, SweepOverWReportsProgressTimesTheBaselinesOnceAndKeepsPointsDoneBeforeACancel) {
  const auto result = compute(tiny_random_dir(), 256, Backend::Cpu);
  TimingOptions options = timing_options_for(result->settings);
  options.cpu_budget_ms = 10;
  std::atomic<bool> cancel{false};
  const auto points = window_sweep_points(result->length(), result->forward.window);
  std::vector<std::int64_t> progress;
  const TimingSweep sweep = run_timing_sweep(*result, SweepKind::Window, 0, options, points,
                                             [&](std::int64_t done, std::int64_t) { progress.push_back(done); }, cancel);
  ASSERT_EQ(sweep.timings.size(), points.size());
  EXPECT_EQ(progress.back(), static_cast<std::int64_t>(points.size()));
  EXPECT_NE(sweep.what_timed.find("captured"), std::string::npos);
  for (std::size_t n = 0; n < points.size(); ++n) {
    EXPECT_EQ(sweep.timings[n].window, points[n]);
    EXPECT_EQ(sweep.timings[n].dense.median_ms, sweep.timings[0].dense.median_ms) << "dense ignores w";
  }
  // More keys per row never lowers the kept pairs.
  for (std::size_t n = 1; n < points.size(); ++n)
    EXPECT_GE(sweep.timings[n].dma.useful_pairs, sweep.timings[n - 1].dma.useful_pairs);
  cancel = true;
  EXPECT_THROW(run_timing_sweep(*result, SweepKind::Window, 0, options, points, {}, cancel), ForwardCancelled);
  // A cancel after two points keeps them.
  std::atomic<bool> stop{false};
  const TimingSweep partial = run_timing_sweep(
      *result, SweepKind::Window, 0, options, points, [&](std::int64_t done, std::int64_t) { stop = done == 2; }, stop);
  EXPECT_TRUE(partial.cancelled);
  ASSERT_EQ(partial.timings.size(), 2u);
  EXPECT_EQ(partial.timings[1].window, points[1]);
}

// A timer that fails where the test says, as a CUDA out-of-memory error would, and times on the CPU elsewhere.
AttentionTimer failing_at(std::function<bool(const AttentionInputs&)> fails) {
  return [fails](const AttentionInputs& inputs, const TimingOptions& options, const std::atomic<bool>& cancel) {
    if (fails(inputs))
      throw Error(fmt::format("CUDA error cudaErrorMemoryAllocation (out of memory) in cudaMalloc at L {}",
                              inputs.length));
    return time_attention_cpu(inputs, options, cancel);
  };
}

TEST(AppTimingCpu, ASweepPointThatFailsIsRecordedWithItsReasonAndTheSweepKeepsItsOtherPoints) {
  const auto result = compute(tiny_random_dir(), 128, Backend::Cpu);
  TimingOptions options = timing_options_for(result->settings);
  options.cpu_budget_ms = 5;
  std::atomic<bool> cancel{false};
  const std::vector<std::int64_t> points = {128, 256, 512};
  std::vector<std::int64_t> progress;
  const TimingSweep sweep = run_timing_sweep(
      *result, SweepKind::Length, 0, options, points,
      [&](std::int64_t done, std::int64_t) { progress.push_back(done); }, cancel,
      failing_at([](const AttentionInputs& inputs) { return inputs.length == 256; }));
  ASSERT_EQ(sweep.timings.size(), points.size()) << "the sweep goes on after a failed point";
  EXPECT_EQ(progress.back(), 3);
  EXPECT_FALSE(sweep.cancelled);
  EXPECT_EQ(sweep.failed_points(), 1u);
  const LayerTiming& failed = sweep.timings[1];
  EXPECT_TRUE(failed.failed());
  EXPECT_NE(failed.failed_why.find("out of memory"), std::string::npos) << failed.failed_why;
  EXPECT_EQ(failed.length, 256) << "a failed point still says which problem it was";
  EXPECT_FALSE(failed.dma.measured);
  EXPECT_FALSE(failed.dma_incl_mask().measured) << "the chart leaves a gap there";
  EXPECT_EQ(failed.device, sweep.device);
  for (std::size_t n : {0u, 2u}) {
    EXPECT_FALSE(sweep.timings[n].failed()) << sweep.timings[n].failed_why;
    EXPECT_EQ(sweep.timings[n].length, points[n]);
    expect_consistent(sweep.timings[n]);
  }
  // The CSV has the failed point's rows, unmeasured, with the reason; the other points' rows are measured.
  const std::string csv = timing_sweep_csv(sweep);
  EXPECT_NE(csv.find("L,256,"), std::string::npos);
  // measured 0, then the seven empty number columns, then the note.
  EXPECT_NE(csv.find(",dma_incl_mask,0" + std::string(8, ',') + "failed: CUDA error cudaErrorMemoryAllocation"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("L,512,"), std::string::npos);
  // Every point failing is still a sweep (each with its reason), not an exception that loses them.
  const TimingSweep all_failed = run_timing_sweep(*result, SweepKind::Length, 0, options, points, {}, cancel,
                                                  failing_at([](const AttentionInputs&) { return true; }));
  EXPECT_EQ(all_failed.failed_points(), points.size());
}

TEST(AppTimingCpu, AWSweepWhoseFirstPointFailsTimesTheBaselinesAtTheFirstPointThatSucceeds) {
  const auto result = compute(tiny_random_dir(), 256, Backend::Cpu);
  TimingOptions options = timing_options_for(result->settings);
  options.cpu_budget_ms = 5;
  std::atomic<bool> cancel{false};
  const auto points = window_sweep_points(result->length(), result->forward.window);
  ASSERT_GE(points.size(), 3u);
  const std::int64_t first = points.front();
  const TimingSweep sweep = run_timing_sweep(*result, SweepKind::Window, 0, options, points, {}, cancel,
                                             failing_at([&](const AttentionInputs& in) { return in.window == first; }));
  ASSERT_EQ(sweep.timings.size(), points.size());
  EXPECT_TRUE(sweep.timings[0].failed());
  EXPECT_EQ(sweep.timings[0].window, first);
  for (std::size_t n = 1; n < points.size(); ++n) {
    EXPECT_TRUE(sweep.timings[n].dense.measured) << "w " << points[n];
    EXPECT_EQ(sweep.timings[n].dense.median_ms, sweep.timings[1].dense.median_ms) << "dense ignores w";
  }
}

#define SKIP_WITHOUT_GPU()                                    \
  do {                                                        \
    std::string why_not;                                      \
    if (!cuda_backend_available(&why_not)) GTEST_SKIP() << why_not; \
  } while (0)

TEST(AppTimingGpu, LayerTimingInBf16AndFp16WithTheMaterializedBaseline) {
  SKIP_WITHOUT_GPU();
  const auto result = compute(toy_mix_dir(), 2048, Backend::Cuda);
  for (Precision dtype : {Precision::BF16, Precision::F16}) {
    TimingOptions options = timing_options_for(result->settings);
    options.precision = dtype;
    std::atomic<bool> cancel{false};
    const LayerTiming t = time_layer(*result, 1, options, cancel);
    print_timing("CUDA layer 1 of doge-toy-mix", t);
    EXPECT_TRUE(t.on_gpu);
    EXPECT_NE(t.device.find(std::string(precision_name(dtype))), std::string::npos);
    expect_consistent(t);
    ASSERT_TRUE(t.materialized.measured) << t.materialized.skipped_why;
    EXPECT_DOUBLE_EQ(t.materialized.executed_pairs, full_pairs(2048, 2048) * static_cast<double>(t.q_heads));
  }
}

TEST(AppTimingGpu, KernelTileStatusesEqualTheCpuMapAt64AndEveryCtaHasATime) {
  SKIP_WITHOUT_GPU();
  const auto result = compute(toy_mix_dir(), 2048, Backend::Cuda);
  const KernelTileMap map = instrument_layer_cuda(*result, 1, Precision::BF16);
  ASSERT_EQ(map.q_tiles, 2048 / 64);
  ASSERT_EQ(map.cta_microseconds.size(), static_cast<std::size_t>(map.q_heads * map.q_tiles));
  for (std::int64_t b = 0; b < map.bias_heads; ++b) {
    const TileMap cpu = build_tile_map(result->death(1, b).data(), result->length(), result->length(), {64, 64});
    const TileMap kernel = kernel_status_map(map, b, result->length());
    // Statuses of causal tiles must agree; the kernel may label tiles above the diagonal differently.
    for (std::int64_t qt = 0; qt < map.q_tiles; ++qt)
      for (std::int64_t kt = 0; kt <= qt; ++kt)
        ASSERT_EQ(kernel.status[qt * map.k_tiles + kt], cpu.status[qt * map.k_tiles + kt])
            << "bias head " << b << " tile (" << qt << ", " << kt << ")";
  }
  for (double us : map.cta_microseconds) {
    EXPECT_GT(us, 0);
    EXPECT_LT(us, 1e6);
  }
  const CtaTimeRange range = cta_time_range(map, 0);
  std::printf("per-CTA time, head 0 of layer 1, L 2048: %.2f … %.2f µs over %lld CTAs (%s)\n", range.low_us,
              range.high_us, static_cast<long long>(map.q_tiles), map.device.c_str());
  EXPECT_GT(kernel_tile_map_csv(map, result->length()).size(), 100u);
}

TEST(AppTimingGpu, SweepsOverLAndOverW) {
  SKIP_WITHOUT_GPU();
  const auto result = compute(toy_mix_dir(), 2048, Backend::Cuda);
  TimingOptions options = timing_options_for(result->settings);
  options.warmup = 1;
  options.repeats = 5;  // the sweep test's budget: a fraction of the GPU minutes
  std::atomic<bool> cancel{false};
  for (SweepKind kind : {SweepKind::Length, SweepKind::Window}) {
    const auto points =
        kind == SweepKind::Length ? length_sweep_points(true) : window_sweep_points(result->length(), result->forward.window);
    const TimingSweep sweep = run_timing_sweep(*result, kind, 1, options, points, {}, cancel);
    ASSERT_EQ(sweep.timings.size(), points.size());
    std::printf("sweep over %s: %s\n", std::string(sweep_kind_name(kind)).c_str(), sweep.what_timed.c_str());
    for (std::size_t n = 0; n < points.size(); ++n) {
      const LayerTiming& t = sweep.timings[n];
      expect_consistent(t);
      std::printf("  %s=%-6s DMA+mask %9.4f ms  kernel %9.4f ms  dense %9.4f ms  materialized %s  exec %.1f / useful %.1f"
                  " TFLOP/s (DMA)  dense %.1f TFLOP/s  density %.4f\n",
                  std::string(sweep_kind_name(kind)).c_str(), token_count_label(points[n]).c_str(), t.dma_total_ms(),
                  t.dma.median_ms, t.dense.median_ms,
                  t.materialized.measured ? fmt::format("{:9.4f} ms", t.materialized.median_ms).c_str() : "skipped",
                  attention_tflops_per_second(t.dma.executed_pairs, t.head_dim, t.dma.median_ms),
                  attention_tflops_per_second(t.dma.useful_pairs, t.head_dim, t.dma.median_ms),
                  attention_tflops_per_second(t.dense.executed_pairs, t.head_dim, t.dense.median_ms), t.token_density);
      if (!t.materialized.measured) std::printf("    materialized skipped: %s\n", t.materialized.skipped_why.c_str());
    }
    EXPECT_FALSE(timing_sweep_csv(sweep).empty());
  }
}

}  // namespace
}  // namespace dmascope::engine
