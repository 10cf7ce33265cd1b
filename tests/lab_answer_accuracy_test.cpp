// Answer accuracy against the budget on a trained task (engine/lab/answer_accuracy.h), on the bundled doge-toy-mqar
// (trained with DMA at w = 64 of 256): dma at the model's own w is the model as trained, answer for answer; swa and
// oracle at that budget are other models; every point counts the same answers; bad settings are errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/base/error.h"
#include "core/lab/lab_metrics.h"
#include "engine/lab/answer_accuracy.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

DogeModel toy_model() {
  return DogeModel::load(testing::source_dir() / "assets/models/doge-toy-mqar");
}

TEST(AnswerAccuracy, DmaAtTheModelsWindowEqualsThePlainForwardAndSwaOracleDiffer) {
  const DogeModel model = toy_model();
  ASSERT_EQ(model.config.keep_window_size, 64);
  AccuracyCurveSettings settings;
  settings.task = ToyTask::Mqar;
  settings.length = 256;
  settings.sequences = 4;
  settings.windows = {16, 64};
  std::int64_t last_done = -1, points = 0;
  const AccuracyCurve curve = answer_accuracy_curve(model, settings, [&](std::int64_t done, std::int64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    points = total;
  });
  EXPECT_EQ(points, 1 + 3 * 2);
  EXPECT_EQ(last_done, points);
  ASSERT_EQ(curve.strategies, (std::vector<Strategy>{Strategy::Dma, Strategy::Swa, Strategy::Oracle}));
  ASSERT_EQ(curve.correct.size(), 6u);
  ASSERT_GT(curve.answers, 20);
  // the model as trained answers most MQAR queries (held-out recall 85–97 %)
  EXPECT_GT(curve.model_accuracy(), 0.7);
  EXPECT_EQ(curve.correct[0 * 2 + 1], curve.model_correct);  // dma at w = 64: the same kept sets
  EXPECT_NE(curve.correct[1 * 2 + 1], curve.model_correct);  // swa at 64: a static window loses far keys
  EXPECT_NE(curve.correct[2 * 2 + 1], curve.model_correct);  // oracle at 64: other keys than the model learned
  EXPECT_LT(curve.accuracy(1, 1), curve.model_accuracy());   // the paper's claim, on this model
  for (std::size_t s = 0; s < 3; ++s)
    for (std::size_t w = 0; w < 2; ++w) {
      EXPECT_GE(curve.accuracy(s, w), 0.0);
      EXPECT_LE(curve.accuracy(s, w), 1.0);
    }
}

TEST(AnswerAccuracy, DefaultWindowsDoubleUpToTheLength) {
  const DogeModel model = toy_model();
  AccuracyCurveSettings settings;
  settings.length = 64;
  settings.sequences = 1;
  settings.strategies = {Strategy::Swa};
  const AccuracyCurve curve = answer_accuracy_curve(model, settings);
  EXPECT_EQ(curve.windows, (std::vector<std::int64_t>{4, 8, 16, 32, 64}));
  // at w = L every strategy keeps every key: dense attention, the same as DMA at 64 of 64 (the plain forward)
  EXPECT_EQ(curve.correct.back(), curve.model_correct);
}

TEST(AnswerAccuracy, BadSettingsAreErrorsAndCancelStops) {
  const DogeModel model = toy_model();
  AccuracyCurveSettings settings;
  settings.length = 64;
  settings.sequences = 1;
  settings.strategies = {Strategy::Dam};
  EXPECT_THROW(answer_accuracy_curve(model, settings), Error);
  settings.strategies = {Strategy::Swa};
  settings.windows = {0};
  EXPECT_THROW(answer_accuracy_curve(model, settings), Error);
  settings.windows = {8};
  settings.sequences = 0;
  EXPECT_THROW(answer_accuracy_curve(model, settings), Error);
  settings.sequences = 1;
  std::atomic<bool> cancel{true};
  EXPECT_THROW(answer_accuracy_curve(model, settings, {}, &cancel), LabCancelled);
  const DogeModel other = DogeModel::load(testing::source_dir() / "assets/models/doge-tiny-random");
  EXPECT_THROW(answer_accuracy_curve(other, settings), Error);  // not the toy vocabulary
}

}  // namespace
}  // namespace dmascope
