// The mask lab on a worker thread, for the app: start(result, settings) runs run_lab (and the budget curves) on the
// pipeline result's forward captures, with progress and cancel, as the Pipeline does for its jobs; poll() once per
// frame collects a finished run. Finished runs are kept (newest last, at most kKeptLabRuns) so that the A/B view can
// put any two side by side. Errors never escape: they are kept as text for the UI.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/lab/answer_accuracy.h"
#include "engine/lab/lab_job.h"
#include "engine/pipeline/pipeline_result.h"

namespace dmascope::engine {

inline constexpr std::size_t kKeptLabRuns = 8;
// Trained-task sequences per point of the app's accuracy curves: 4 × 256 tokens × 22 points of a toy model take a few
// seconds of one CPU core; the CLI's --accuracy-sequences goes further.
inline constexpr std::int64_t kLabAccuracySequences = 4;

// One finished lab run and what it was made from (the views need the captures for dropped mass and kept-set diffs).
struct LabRun {
  std::shared_ptr<const PipelineResult> source;  // the model, ids and forward captures the lab read
  LabSettings settings;
  LabResult result;
  BudgetCurves curves;   // empty when no budget windows were asked for
  // Answer accuracy against the same budgets for dma, swa and oracle, when the source is a trained task and the
  // model speaks its vocabulary (kLabAccuracySequences sequences of the source's task, length and seed).
  std::optional<AccuracyCurve> accuracy;
  std::string label;     // "#2 w=16 L=256 Doge-20M", for pickers
};

struct LabRunnerStatus {
  bool running = false;
  LabProgress progress;
  std::string error;       // the last run's error, empty when it succeeded
  bool cancelled = false;
};

class LabRunner {
 public:
  explicit LabRunner(std::function<void()> wake = {});
  ~LabRunner();  // cancels and joins
  LabRunner(const LabRunner&) = delete;
  LabRunner& operator=(const LabRunner&) = delete;

  // Starts a run (cancelling one in flight). curve_windows: the budgets of the budget curves (empty: none).
  void start(std::shared_ptr<const PipelineResult> source, const LabSettings& settings,
             std::vector<std::int64_t> curve_windows);
  void cancel();
  void poll();  // collects a finished run into runs()
  LabRunnerStatus status() const;
  bool settled() const;  // nothing running and nothing left to collect
  const std::vector<std::shared_ptr<const LabRun>>& runs() const { return runs_; }

 private:
  void join();
  std::function<void()> wake_;
  std::thread worker_;
  std::atomic<bool> cancel_{false};
  mutable std::mutex mutex_;              // guards status_ and finished_
  LabRunnerStatus status_;
  std::shared_ptr<const LabRun> finished_;  // set by the worker, moved into runs_ by poll()
  bool finished_pending_ = false;
  std::vector<std::shared_ptr<const LabRun>> runs_;
  std::int64_t runs_started_ = 0;
};

// The budgets of the budget curves for a sequence of `length` tokens: powers of two from 4 up to L, and L.
std::vector<std::int64_t> default_curve_windows(std::int64_t length);

}  // namespace dmascope::engine
