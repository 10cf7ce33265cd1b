#include "engine/lab/lab_runner.h"

#include <fmt/format.h>

#include <exception>
#include <utility>

namespace dmascope::engine {

LabRunner::LabRunner(std::function<void()> wake) : wake_(std::move(wake)) {}

LabRunner::~LabRunner() {
  cancel_ = true;
  join();
}

void LabRunner::join() {
  if (worker_.joinable()) worker_.join();
}

void LabRunner::cancel() { cancel_ = true; }

void LabRunner::start(std::shared_ptr<const PipelineResult> source, const LabSettings& settings,
                      std::vector<std::int64_t> curve_windows) {
  cancel_ = true;
  join();
  poll();  // a run that finished while we joined is kept, not lost
  cancel_ = false;
  const std::int64_t number = ++runs_started_;
  {
    std::lock_guard lock(mutex_);
    status_ = LabRunnerStatus{};
    status_.running = true;
    status_.progress.stage = "starting";
  }
  worker_ = std::thread([this, source = std::move(source), settings, curve_windows = std::move(curve_windows),
                         number] {
    auto run = std::make_shared<LabRun>();
    std::string error;
    bool cancelled = false;
    try {
      run->source = source;
      run->settings = settings;
      const DogeModel& model = source->model->model;
      run->result = run_lab(model, source->forward, settings, [this](const LabProgress& progress) {
        std::lock_guard lock(mutex_);
        status_.progress = progress;
      }, &cancel_);
      if (!curve_windows.empty()) {
        {
          std::lock_guard lock(mutex_);
          status_.progress = LabProgress{0, 1, "budget curves"};
        }
        LabSettings curve_settings = settings;
        curve_settings.dam_masks.reset();
        run->curves = budget_curves(source->forward, curve_windows, curve_settings, &cancel_);
        if (source->settings.source == SourceKind::Task && model.config.vocab_size == toy_vocab::kSize) {
          AccuracyCurveSettings accuracy;
          accuracy.task = source->settings.task;
          accuracy.length = source->length();
          accuracy.sequences = kLabAccuracySequences;
          accuracy.seed = source->settings.seed;
          accuracy.windows = curve_windows;
          run->accuracy = answer_accuracy_curve(model, accuracy, [this](std::int64_t done, std::int64_t total) {
            std::lock_guard lock(mutex_);
            status_.progress = LabProgress{done, total, "answer accuracy"};
          }, &cancel_);
        }
      }
      run->label = fmt::format("#{} w={} L={} {}", number, run->result.window, run->result.length,
                               source->model->name());
    } catch (const LabCancelled&) {
      cancelled = true;
    } catch (const std::exception& failure) {
      error = failure.what();
    }
    {
      std::lock_guard lock(mutex_);
      status_.running = false;
      status_.error = error;
      status_.cancelled = cancelled;
      if (!cancelled && error.empty()) {
        finished_ = std::move(run);
        finished_pending_ = true;
      }
    }
    if (wake_) wake_();
  });
}

void LabRunner::poll() {
  std::lock_guard lock(mutex_);
  if (!finished_pending_) return;
  finished_pending_ = false;
  runs_.push_back(std::move(finished_));
  if (runs_.size() > kKeptLabRuns) runs_.erase(runs_.begin());
}

LabRunnerStatus LabRunner::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool LabRunner::settled() const {
  std::lock_guard lock(mutex_);
  return !status_.running && !finished_pending_;
}

std::vector<std::int64_t> default_curve_windows(std::int64_t length) {
  std::vector<std::int64_t> windows;
  for (std::int64_t w = 4; w < length; w *= 2) windows.push_back(w);
  if (length >= 1) windows.push_back(length);
  return windows;
}

}  // namespace dmascope::engine
