// The logits view's source (engine/pipeline/logit_source.h) on a real forward of the bundled tiny model: the head mapping
// (query head → kv head for k, → bias head for β and the mask) gives the logits computed here from the captures, and
// a result without q/k captures (or with captures of the wrong dtype) gives no source and a reason, never a crash.
// And its worker (engine/pipeline/logit_grid_job.h): it delivers the grid core computes, wakes the UI, and a request for
// another head supersedes a running one.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <thread>

#include "engine/pipeline/logit_grid_job.h"
#include "engine/pipeline/logit_source.h"
#include "engine/pipeline/logit_view.h"
#include "core/mask/dma_mask.h"
#include "core/toy/toy_sequences.h"

namespace dmascope::engine {
namespace {

std::shared_ptr<PipelineResult> small_result() {
  auto loaded = std::make_shared<LoadedModel>(LoadedModel{DMASCOPE_DEFAULT_MODEL_DIR,
                                                          DogeModel::load(DMASCOPE_DEFAULT_MODEL_DIR), std::nullopt});
  auto result = std::make_shared<PipelineResult>();
  result->model = loaded;
  result->ids = make_toy_sequence(ToySequenceKind::Random, 24, loaded->model.config.vocab_size, 3).ids;
  ForwardOptions options;
  options.window = 6;
  result->forward = doge_forward(loaded->model, result->ids, options);
  return result;
}

TEST(GuiLogitSource, EveryHeadReadsItsKvHeadAndBiasHeadAndGivesTheForwardsLogits) {
  const auto result = small_result();
  const auto& config = result->model->model.config;
  const std::int64_t L = result->length(), d = config.head_dim, H = config.num_attention_heads;
  const std::int64_t Hkv = config.num_key_value_heads;
  ASSERT_LT(Hkv, H) << "the case should have grouped heads";
  for (std::int64_t layer = 0; layer < result->layers(); ++layer)
    for (std::int64_t head = 0; head < H; ++head) {
      std::string why_not;
      const auto source = logit_source(*result, layer, head, &why_not);
      ASSERT_TRUE(source) << why_not;
      const LayerCapture& capture = result->forward.layers[layer];
      const float* q = capture.q_rope.data<float>() + head * L * d;
      const float* k = capture.k_rope.data<float>() + (head / (H / Hkv)) * L * d;
      const std::int64_t bias_head = result->bias_head_of(head);
      EXPECT_EQ(source->death.data(), capture.death.data<std::int32_t>() + bias_head * L);
      for (std::int64_t i = 0; i < L; i += 5)
        for (std::int64_t j = 0; j <= i; j += 3) {
          double dot = 0.0;
          for (std::int64_t c = 0; c < d; ++c) dot += static_cast<double>(q[i * d + c]) * k[j * d + c];
          const double want = dot / std::sqrt(static_cast<double>(d)) +
                              capture.dyn_bias.data<float>()[bias_head * L + j];
          // float dot of d ≤ 64 terms against double: 1e-4 absolute is far above the rounding.
          EXPECT_NEAR(dma_logit(*source, i, j), want, 1e-4) << "layer " << layer << " head " << head;
        }
    }
}

TEST(GuiLogitSource, WithoutQkCapturesThereIsNoSourceAndTheReasonSaysSo) {
  const auto result = small_result();
  result->forward.layers[1].q_rope = Tensor();
  result->forward.layers[1].k_rope = Tensor();
  std::string why_not;
  EXPECT_TRUE(logit_source(*result, 0, 0, &why_not));
  EXPECT_FALSE(logit_source(*result, 1, 0, &why_not));
  EXPECT_NE(why_not.find("no q/k captures for layer 1"), std::string::npos) << why_not;
  result->forward.layers[0].k_rope = result->forward.layers[0].k_rope.to(DType::BF16);
  EXPECT_FALSE(logit_source(*result, 0, 0, &why_not));
  EXPECT_NE(why_not.find("BF16"), std::string::npos) << why_not;
  EXPECT_FALSE(logit_source(*result, 5, 0, &why_not));
  EXPECT_NE(why_not.find("outside the result"), std::string::npos) << why_not;
}

std::optional<FinishedLogitGrid> wait_for_grid(LogitGridJob& job, double timeout_seconds = 60) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < timeout_seconds) {
    if (auto finished = job.take_finished()) return finished;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return std::nullopt;
}

LogitGridRequest request_for(const std::shared_ptr<PipelineResult>& result, std::int64_t head, std::int64_t pixels,
                             bool probabilities = false) {
  LogitGridRequest request;
  request.key = GridKey{1, 0, head, probabilities ? 1 : 2, 0, 0, 24, 0, 24, pixels, pixels};
  request.result = result;
  request.view.layer = 0;
  request.view.head = head;
  request.view.window = visible_window(whole_matrix(result->length()), result->length());
  request.view.width = request.view.height = pixels;
  request.view.probabilities = probabilities;
  return request;
}

TEST(GuiLogitGridJob, DeliversTheGridCoreComputesAndWakesTheUi) {
  const auto result = small_result();
  std::atomic<int> wakes{0};
  LogitGridJob job([&] { ++wakes; });
  const LogitGridRequest request = request_for(result, 1, 12);
  job.request(request);
  const auto finished = wait_for_grid(job);
  ASSERT_TRUE(finished);
  EXPECT_TRUE(finished->error.empty()) << finished->error;
  EXPECT_EQ(finished->key, request.key);
  std::string why_not;
  const LogitGrid direct =
      reduce_logits_to_grid(*logit_source(*result, 0, 1, &why_not), request.view.window, 12, 12, ReduceMode::Mean);
  EXPECT_EQ(finished->grid.values, direct.values);
  EXPECT_EQ(finished->grid.coverage, direct.coverage);
  for (int n = 0; n < 1000 && wakes.load() == 0; ++n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(wakes.load(), 1) << "the worker wakes the UI once per grid (right after handing it over)";
  EXPECT_FALSE(job.busy());
  EXPECT_FALSE(job.take_finished()) << "a grid is handed out once";
}

// The probabilities view on the CPU: one pixel per cell, each row's kept entries sum to one, and the tooltip's cell
// agrees with the picture.
TEST(GuiLogitGridJob, ProbabilitiesAreEachRowsSoftmaxOverItsKeptKeys) {
  const auto result = small_result();
  LogitGridJob job(nullptr);
  const std::int64_t L = result->length();
  LogitGridRequest request = request_for(result, 1, L, true);
  request.key.width = request.key.height = L;
  job.request(request);
  const auto finished = wait_for_grid(job);
  ASSERT_TRUE(finished);
  ASSERT_TRUE(finished->error.empty()) << finished->error;
  const LogitGrid& grid = finished->grid;
  const auto death = result->death(0, result->bias_head_of(1));
  for (std::int64_t i = 0; i < L; ++i) {
    double row_sum = 0.0;
    for (std::int64_t j = 0; j <= i; ++j) {
      const auto p = static_cast<std::size_t>(i * L + j);
      ASSERT_EQ(grid.coverage[p], dma_keeps(death, i, j) ? LogitPixel::Value : LogitPixel::AllMasked);
      if (grid.coverage[p] == LogitPixel::Value) row_sum += grid.values[p];
    }
    EXPECT_NEAR(row_sum, 1.0, 1e-5) << "row " << i;
  }
  const std::int64_t i = L - 1;
  for (std::int64_t j = 0; j <= i; ++j) {
    const LogitCell cell = logit_cell(*result, 0, 1, i, j);
    if (dma_keeps(death, i, j)) {
      EXPECT_FLOAT_EQ(cell.probability, grid.values[static_cast<std::size_t>(i * L + j)]);
    } else {
      EXPECT_EQ(cell.probability, 0.0f);
      EXPECT_TRUE(std::isinf(cell.logit) && cell.logit < 0);
    }
  }
}

TEST(GuiLogitGridJob, TheNewestRequestWinsAndBadCapturesComeBackAsAnError) {
  const auto result = small_result();
  LogitGridJob job(nullptr);
  // Many requests back to back (another head each time): whatever ran before, the last one is what is delivered.
  for (std::int64_t head = 0; head < 4; ++head) job.request(request_for(result, head % 4, 16));
  const LogitGridRequest last = request_for(result, 2, 20);
  job.request(last);
  std::optional<FinishedLogitGrid> finished;
  for (int n = 0; n < 10 && (!finished || !(finished->key == last.key)); ++n) finished = wait_for_grid(job);
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->key, last.key);
  EXPECT_EQ(finished->grid.width, 20);
  // A head the result does not have: the reduction's error is delivered, the worker keeps running.
  LogitGridRequest bad = request_for(result, 0, 8);
  bad.key.head = 9;
  bad.view.head = 9;
  job.request(bad);
  const auto error = wait_for_grid(job);
  ASSERT_TRUE(error);
  EXPECT_NE(error->error.find("head 9 is outside"), std::string::npos) << error->error;
  job.request(request_for(result, 3, 8));
  const auto after = wait_for_grid(job);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->error.empty());
}

}  // namespace
}  // namespace dmascope::engine
