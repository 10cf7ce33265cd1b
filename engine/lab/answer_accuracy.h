// Answer accuracy against the budget on a trained task: the model's whole forward run with each strategy's kept sets
// in place of DMA's mask in every layer (ForwardOptions::kept_sets), at each budget w, scored on the task's answer
// rows (the fraction of answers whose greedy token is right). The paper's DMA-against-sliding-window claim, measured
// on the bundled toy models: dma at the model's own w is the model as trained, swa is the static window, oracle the
// best any w keys per row could do.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/lab/strategy.h"
#include "core/model/doge_forward.h"
#include "core/toy/toy_tasks.h"

namespace dmascope {

struct AccuracyCurveSettings {
  ToyTask task = ToyTask::Mqar;
  std::int64_t length = 256;      // tokens per sequence (the bundled models were trained at 256)
  std::int64_t sequences = 8;     // trained-task sequences scored per point: make_toy_example(task, …, seed, n)
  std::uint64_t seed = 0;
  std::vector<std::int64_t> windows;  // the budgets; empty: 4, 8, … up to the length, and the length
  std::vector<Strategy> strategies{Strategy::Dma, Strategy::Swa, Strategy::Oracle};  // dam is refused (no budget)
};

struct AccuracyCurve {
  ToyTask task = ToyTask::Mqar;
  std::int64_t length = 0, sequences = 0, model_window = 0;
  std::vector<std::int64_t> windows;
  std::vector<Strategy> strategies;
  std::vector<std::int64_t> correct;  // [strategies, windows] answers right
  std::int64_t answers = 0;           // answers per point (the same sequences at every point)
  std::int64_t model_correct = 0;     // the plain forward (DMA's own mask at the model's w), for reference
  double accuracy(std::size_t strategy_index, std::size_t window_index) const;
  double model_accuracy() const;
};

// progress (optional): (points done, points). Error for a model off the toy vocabulary, dam among the strategies,
// a window < 1 or a length the task cannot fit; LabCancelled when cancel is set.
AccuracyCurve answer_accuracy_curve(const DogeModel& model, const AccuracyCurveSettings& settings,
                                    const std::function<void(std::int64_t, std::int64_t)>& progress = {},
                                    const std::atomic<bool>* cancel = nullptr);

// The kept sets of `strategy` at budget w for every query head of one layer's attention inputs, as the forward's
// mask seam takes them (dma and shared recompute their death indices from the layer's β at w).
std::vector<KeptKeySets> strategy_kept_sets(const AttentionProblem& problem, Strategy strategy, std::int64_t window);

}  // namespace dmascope
