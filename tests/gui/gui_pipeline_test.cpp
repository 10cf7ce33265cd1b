// The pipeline's threading contract, without a window: results carry their settings and are stale until replaced,
// errors are kept and not retried, cancel stops a running forward, and timing comes after the result.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "engine/timing/layer_timing.h"
#include "engine/pipeline/pipeline.h"
#include "core/model/random_model.h"

namespace dmascope::engine {
namespace {

PipelineSettings tiny_settings(std::int64_t length) {
  PipelineSettings settings;
  settings.model_dir = DMASCOPE_DEFAULT_MODEL_DIR;
  settings.toy = ToySequenceKind::Random;
  settings.length = length;
  settings.tile_size = 8;
  return settings;
}

// Polls like the UI does, once per "frame", until the pipeline has nothing left to do.
bool poll_until_settled(Pipeline& pipeline, double timeout_seconds = 120) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < timeout_seconds) {
    pipeline.poll();
    if (pipeline.settled()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(GuiPipeline, ResultCarriesItsSettingsAndIsStaleUntilReplaced) {
  Pipeline pipeline;
  const PipelineSettings first = tiny_settings(40);
  pipeline.set_settings(first);
  ASSERT_TRUE(poll_until_settled(pipeline));
  auto result = pipeline.result();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->settings, first);
  EXPECT_EQ(result->length(), 40);
  EXPECT_FALSE(result->forward.layers[0].attn_probs.defined()) << "probabilities are computed per view, never L×L";
  EXPECT_EQ(result->thumbnails.size(), static_cast<std::size_t>(result->layers() * result->bias_heads()));
  EXPECT_FALSE(pipeline.result_is_stale());

  PipelineSettings second = first;
  second.window = 4;
  pipeline.set_settings(second);
  EXPECT_TRUE(pipeline.result_is_stale()) << "the old result stays visible, marked stale";
  EXPECT_EQ(pipeline.result()->settings, first);
  ASSERT_TRUE(poll_until_settled(pipeline));
  EXPECT_FALSE(pipeline.result_is_stale());
  EXPECT_EQ(pipeline.result()->forward.window, 4);
  EXPECT_GT(pipeline.result()->generation, result->generation);
}

TEST(GuiPipeline, RetryOfAnUpToDateResultKeepsItMarkedStaleUntilTheNewOneArrives) {
  Pipeline pipeline;
  pipeline.set_settings(tiny_settings(32));
  ASSERT_TRUE(poll_until_settled(pipeline));
  const auto first = pipeline.result();
  ASSERT_TRUE(first);
  pipeline.retry();  // F5
  EXPECT_EQ(pipeline.result(), first) << "the picture stays while it is recomputed";
  EXPECT_TRUE(pipeline.result_is_stale());
  EXPECT_FALSE(pipeline.settled());
  ASSERT_TRUE(poll_until_settled(pipeline));
  EXPECT_FALSE(pipeline.result_is_stale());
  EXPECT_GT(pipeline.result()->generation, first->generation);
}

TEST(GuiPipeline, AnErrorIsReportedAndTheFailedSettingsAreNotRetriedUntilChanged) {
  Pipeline pipeline;
  PipelineSettings broken = tiny_settings(16);
  broken.model_dir = "/nonexistent/model";
  pipeline.set_settings(broken);
  ASSERT_TRUE(poll_until_settled(pipeline));
  EXPECT_FALSE(pipeline.result());
  EXPECT_NE(pipeline.status().error.find("/nonexistent/model"), std::string::npos) << pipeline.status().error;
  pipeline.poll();
  EXPECT_FALSE(pipeline.status().running) << "failed settings must not be retried by themselves";
  pipeline.set_settings(tiny_settings(16));
  ASSERT_TRUE(poll_until_settled(pipeline));
  EXPECT_TRUE(pipeline.result());
  EXPECT_TRUE(pipeline.status().error.empty());
}

TEST(GuiPipeline, CancelStopsARunningForwardAndKeepsItsSettingsOnHold) {
  Pipeline pipeline;
  pipeline.set_settings(tiny_settings(131072));  // seconds of work on two cores
  pipeline.poll();
  ASSERT_TRUE(pipeline.status().running);
  pipeline.cancel();
  ASSERT_TRUE(poll_until_settled(pipeline));
  EXPECT_TRUE(pipeline.status().cancelled);
  EXPECT_FALSE(pipeline.result());
}

TEST(GuiPipeline, TimingOfALayerComesAfterTheResultAndDescribesTheCpuRun) {
  Pipeline pipeline;
  pipeline.set_settings(tiny_settings(64));
  ASSERT_TRUE(poll_until_settled(pipeline));
  pipeline.request_timing(1);
  ASSERT_TRUE(poll_until_settled(pipeline));
  const auto timing = pipeline.timing(1);
  ASSERT_TRUE(timing) << pipeline.timing_error(1);
  EXPECT_EQ(timing->layer, 1);
  EXPECT_FALSE(timing->on_gpu);
  EXPECT_NE(timing->device.find("CPU"), std::string::npos);
  EXPECT_GT(timing->dense.median_ms, 0);
  EXPECT_GT(timing->dma.median_ms, 0);
  EXPECT_GT(timing->token_density, 0);
  EXPECT_LE(timing->token_density, 1);
  EXPECT_NEAR(timing->ideal_speedup(), 1 / timing->token_density, 1e-9);
}

// The CUDA kernels support head dims 64 and 128 only, so this uses a random model of Doge-20M's shape (d = 128).
TEST(GuiPipeline, CudaTimingRunsOnTheGpuWhenThereIsOne) {
  std::string why_not;
  if (!cuda_backend_available(&why_not)) GTEST_SKIP() << why_not;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "dmascope-gui-tests" / "doge-20m-random";
  if (!std::filesystem::exists(dir / "config.json"))
    write_random_doge(dir, random_model_preset("doge-20m"), DType::F32, 3);
  PipelineSettings settings = tiny_settings(2048);
  settings.model_dir = dir.string();
  settings.window = 256;
  settings.tile_size = 64;
  settings.backend = Backend::Cuda;
  Pipeline pipeline;
  pipeline.set_settings(settings);
  ASSERT_TRUE(poll_until_settled(pipeline, 300)) << pipeline.status().error;
  ASSERT_TRUE(pipeline.result()) << pipeline.status().error;
  pipeline.request_timing(0);
  ASSERT_TRUE(poll_until_settled(pipeline, 300));
  const auto timing = pipeline.timing(0);
  ASSERT_TRUE(timing) << pipeline.timing_error(0);
  EXPECT_TRUE(timing->on_gpu);
  EXPECT_GT(timing->dma.median_ms, 0);
  EXPECT_GT(timing->dense.median_ms, 0);
  EXPECT_GT(timing->dma.executed_pairs, 0);
  std::printf("CUDA timing on %s: mask %.3f ms, DMA %.3f ms, dense %.3f ms, token density %.3f\n",
              timing->device.c_str(), timing->mask_build.median_ms, timing->dma.median_ms, timing->dense.median_ms, timing->token_density);
}

}  // namespace
}  // namespace dmascope::engine
