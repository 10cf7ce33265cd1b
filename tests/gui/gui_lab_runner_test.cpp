// The Mask lab's worker (engine/lab/lab_runner.h), without a window: a run gives the rows run_lab gives on the same
// captures, a cancelled run leaves nothing behind, an error is kept as text, and only the newest kKeptLabRuns stay.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "engine/lab/lab_runner.h"
#include "engine/pipeline/pipeline.h"

namespace dmascope::engine {
namespace {

std::shared_ptr<const PipelineResult> tiny_result() {
  PipelineSettings settings;
  settings.model_dir = DMASCOPE_DEFAULT_MODEL_DIR;
  settings.toy = ToySequenceKind::Random;
  settings.length = 48;
  settings.tile_size = 8;
  Pipeline pipeline;
  pipeline.set_settings(settings);
  for (int frame = 0; frame < 20000 && !pipeline.settled(); ++frame) {
    pipeline.poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pipeline.poll();
  return pipeline.result();
}

bool poll_until_settled(LabRunner& runner) {
  for (int frame = 0; frame < 24000; ++frame) {
    runner.poll();
    if (runner.settled()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

LabSettings small_lab() {
  LabSettings settings;
  settings.strategies = {Strategy::Dma, Strategy::Swa, Strategy::Oracle};
  settings.window = 8;
  settings.tiles = {8, 8};
  return settings;
}

TEST(GuiLabRunner, ARunOnTheWorkerGivesTheRowsRunLabGivesOnTheSameCaptures) {
  const auto source = tiny_result();
  ASSERT_TRUE(source);
  LabRunner runner;
  runner.start(source, small_lab(), default_curve_windows(source->length()));
  ASSERT_TRUE(poll_until_settled(runner));
  ASSERT_EQ(runner.status().error, "");
  ASSERT_EQ(runner.runs().size(), 1u);
  const LabRun& run = *runner.runs().back();
  const LabResult direct = run_lab(source->model->model, source->forward, small_lab());
  ASSERT_EQ(run.result.rows.size(), direct.rows.size());
  EXPECT_EQ(run.result.rows.size(), static_cast<std::size_t>(source->layers() * source->q_heads() * 3));
  for (std::size_t i = 0; i < direct.rows.size(); ++i) {
    EXPECT_EQ(run.result.rows[i].metrics.kept_entries, direct.rows[i].metrics.kept_entries);
    EXPECT_DOUBLE_EQ(run.result.rows[i].metrics.mass_recall_mean, direct.rows[i].metrics.mass_recall_mean);
  }
  // Budget curves at 4, 8, 16, 32 and L = 48; at w = L every strategy keeps every causal key: recall 1.
  EXPECT_EQ(run.curves.windows, (std::vector<std::int64_t>{4, 8, 16, 32, 48}));
  for (std::size_t s = 0; s < run.curves.strategies.size(); ++s)
    EXPECT_NEAR(run.curves.at(0, 0, s, run.curves.windows.size() - 1), 1.0, 1e-6);
}

TEST(GuiLabRunner, AnErrorIsKeptAsTextAndNoRunIsAdded) {
  const auto source = tiny_result();
  ASSERT_TRUE(source);
  LabRunner runner;
  LabSettings settings = small_lab();
  settings.layers = {99};  // the model has 2 layers
  runner.start(source, settings, {});
  ASSERT_TRUE(poll_until_settled(runner));
  EXPECT_NE(runner.status().error, "");
  EXPECT_TRUE(runner.runs().empty());
}

TEST(GuiLabRunner, ACancelledRunLeavesNothingAndOnlyTheNewestRunsAreKept) {
  const auto source = tiny_result();
  ASSERT_TRUE(source);
  LabRunner runner;
  LabSettings settings = small_lab();
  settings.strategies = {Strategy::Swa};
  for (std::size_t i = 0; i < kKeptLabRuns + 2; ++i) {
    runner.start(source, settings, {});
    ASSERT_TRUE(poll_until_settled(runner));
  }
  ASSERT_EQ(runner.runs().size(), kKeptLabRuns);
  EXPECT_EQ(runner.runs().front()->label.rfind("#3 ", 0), 0u) << runner.runs().front()->label;
  EXPECT_EQ(runner.runs().back()->label.rfind("#10 ", 0), 0u) << runner.runs().back()->label;
  // A cancel before the worker finishes: either the run completed first or it left nothing; never a partial run.
  runner.start(source, small_lab(), default_curve_windows(source->length()));
  runner.cancel();
  ASSERT_TRUE(poll_until_settled(runner));
  const LabRunnerStatus status = runner.status();
  EXPECT_FALSE(status.running);
  if (status.cancelled) EXPECT_EQ(runner.runs().back()->label.rfind("#10 ", 0), 0u);
  else EXPECT_EQ(runner.runs().back()->result.rows.size(), static_cast<std::size_t>(source->layers() * source->q_heads() * 3));
}

}  // namespace
}  // namespace dmascope::engine
