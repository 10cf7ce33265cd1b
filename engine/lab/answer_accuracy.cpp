#include "engine/lab/answer_accuracy.h"

#include <cmath>

#include "core/base/error.h"
#include "core/lab/kept_rows.h"
#include "core/lab/lab_metrics.h"
#include "core/mask/dma_mask.h"
#include "engine/lab/lab_job.h"

namespace dmascope {

double AccuracyCurve::accuracy(std::size_t strategy_index, std::size_t window_index) const {
  if (answers == 0) return std::nan("");
  return static_cast<double>(correct.at(strategy_index * windows.size() + window_index)) /
         static_cast<double>(answers);
}

double AccuracyCurve::model_accuracy() const {
  return answers > 0 ? static_cast<double>(model_correct) / static_cast<double>(answers) : std::nan("");
}

std::vector<KeptKeySets> strategy_kept_sets(const AttentionProblem& problem, Strategy strategy, std::int64_t window) {
  if (strategy == Strategy::Dam) fail("kept sets in the forward: dam has no budget (calibrate it in the lab instead)");
  if (problem.batch != 1 || problem.q_len != problem.key_len)
    fail("kept sets in the forward: batch 1 prefill only (batch {}, {} rows, {} keys)", problem.batch, problem.q_len,
         problem.key_len);
  if (problem.beta == nullptr) fail("kept sets in the forward: the layer has no β");
  const std::int64_t L = problem.q_len, d = problem.head_dim;
  const auto Ld = static_cast<std::size_t>(L * d), Lsize = static_cast<std::size_t>(L);
  std::vector<std::vector<std::int32_t>> dma_death(static_cast<std::size_t>(problem.bias_heads)),
      shared_death(dma_death.size());
  for (std::int64_t b = 0; b < problem.bias_heads; ++b) {
    const std::span<const float> beta(problem.beta + b * L, Lsize);
    if (strategy == Strategy::Dma) dma_death[static_cast<std::size_t>(b)] = dma_death_indices(beta, window, MaskVariant::PerRowTopK);
    if (strategy == Strategy::Shared)
      shared_death[static_cast<std::size_t>(b)] = dma_death_indices(beta, window, MaskVariant::SharedTopK);
  }
  std::vector<KeptKeySets> heads;
  for (std::int64_t h = 0; h < problem.q_heads; ++h) {
    const std::int64_t g = problem.kv_head_of(h), b = problem.bias_head_of(h);
    LabHead head;
    head.length = L;
    head.head_dim = d;
    head.scale = problem.scale;
    head.window = window;
    head.query = {problem.q + h * L * d, Ld};
    head.key = {problem.k + g * L * d, Ld};
    head.value = {problem.v + g * L * d, Ld};
    head.beta = {problem.beta + b * L, Lsize};
    head.dma_death = dma_death[static_cast<std::size_t>(b)];
    head.shared_death = shared_death[static_cast<std::size_t>(b)];
    KeptRows rows = KeptSetBuilder(head).rows(strategy, 0, L);
    KeptKeySets sets;
    sets.offsets = std::move(rows.offsets);
    sets.keys = std::move(rows.keys);
    heads.push_back(std::move(sets));
  }
  return heads;
}

AccuracyCurve answer_accuracy_curve(const DogeModel& model, const AccuracyCurveSettings& settings,
                                    const std::function<void(std::int64_t, std::int64_t)>& progress,
                                    const std::atomic<bool>* cancel) {
  if (settings.sequences < 1) fail("answer accuracy: {} sequences asked for; at least 1 is needed", settings.sequences);
  if (settings.strategies.empty()) fail("answer accuracy: no strategy chosen");
  for (Strategy strategy : settings.strategies)
    if (strategy == Strategy::Dam) fail("answer accuracy: dam has no budget w; choose from dma, shared, swa, sinks, "
                                        "oracle, nsa");
  AccuracyCurve curve;
  curve.task = settings.task;
  curve.length = settings.length;
  curve.sequences = settings.sequences;
  curve.model_window = model.config.keep_window_size;
  curve.strategies = settings.strategies;
  curve.windows = settings.windows;
  if (curve.windows.empty()) {
    for (std::int64_t w = 4; w < settings.length; w *= 2) curve.windows.push_back(w);
    curve.windows.push_back(settings.length);
  }
  for (std::int64_t w : curve.windows)
    if (w < 1) fail("answer accuracy: window {} must be ≥ 1", w);

  std::vector<ToyExample> examples;
  for (std::int64_t n = 0; n < settings.sequences; ++n)
    examples.push_back(lab_task_example(model, settings.task, settings.length, settings.seed,
                                        static_cast<std::uint64_t>(n)));
  for (const ToyExample& example : examples) curve.answers += static_cast<std::int64_t>(example.answers.size());

  const auto check_cancel = [cancel] {
    if (cancel != nullptr && cancel->load()) throw LabCancelled();
  };
  const auto points = static_cast<std::int64_t>(curve.strategies.size() * curve.windows.size()) + 1;
  std::int64_t done = 0;
  ForwardOptions plain;
  plain.capture = false;
  plain.cancel = cancel;
  const auto correct_answers = [&](const ForwardOptions& options) {
    std::int64_t correct = 0;
    for (const ToyExample& example : examples) {
      check_cancel();
      try {
        correct += score_toy_answers(example, doge_forward(model, example.ids, options).logits).correct;
      } catch (const ForwardCancelled&) {
        throw LabCancelled();
      }
    }
    return correct;
  };
  if (progress) progress(done, points);
  curve.model_correct = correct_answers(plain);
  if (progress) progress(++done, points);
  for (Strategy strategy : curve.strategies)
    for (std::int64_t w : curve.windows) {
      ForwardOptions options = plain;
      options.kept_sets = [strategy, w](std::int64_t, const AttentionProblem& problem) {
        return strategy_kept_sets(problem, strategy, w);
      };
      curve.correct.push_back(correct_answers(options));
      if (progress) progress(++done, points);
    }
  return curve;
}

}  // namespace dmascope
