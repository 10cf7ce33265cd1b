#include "app/gui/pipeline.h"

#include "app/gui/layer_timing.h"
#include "core/error.h"

namespace dmascope::gui {

struct Pipeline::Job {
  enum class Kind { Forward, Timing } kind = Kind::Forward;
  PipelineSettings settings;                    // Forward
  std::shared_ptr<const PipelineResult> base;   // Timing: the result to time
  std::int64_t layer = 0;                       // Timing
  std::atomic<bool> done{false};
  // Written by the worker before `done` is set, read by the UI after it saw `done`.
  std::shared_ptr<PipelineResult> result;
  std::shared_ptr<LayerTiming> timing;
  std::string error;
  bool cancelled = false;
};

Pipeline::Pipeline(std::function<void()> wake) : wake_(std::move(wake)) {}

Pipeline::~Pipeline() {
  cancel_ = true;
  if (worker_.joinable()) worker_.join();
}

void Pipeline::set_settings(const PipelineSettings& settings) {
  if (settings == settings_) return;
  settings_ = settings;
  on_hold_.reset();
  // A running forward for other settings is now wasted work; a running timing of the old result too.
  if (job_) cancel_ = true;
}

void Pipeline::cancel() {
  if (job_) cancel_ = true;
  timing_wanted_.reset();
}

void Pipeline::retry() {
  on_hold_.reset();
  error_.clear();
  cancelled_ = false;
  if (result_ && result_->settings == settings_) result_.reset();  // recompute even an up-to-date result
}

PipelineStatus Pipeline::status() const {
  PipelineStatus status;
  status.running = job_ != nullptr;
  status.phase = job_ ? progress_.phase.load() : ComputePhase::Idle;
  status.steps_done = progress_.steps_done;
  status.steps_total = progress_.steps_total;
  status.error = error_;
  status.cancelled = cancelled_;
  return status;
}

bool Pipeline::settled() const {
  const bool forward_pending = !(result_ && result_->settings == settings_) && !(on_hold_ && *on_hold_ == settings_);
  return !job_ && !forward_pending && !timing_wanted_;
}

void Pipeline::request_timing(std::int64_t layer) {
  if (!result_ || timings_.count(layer) || timing_errors_.count(layer)) return;
  timing_wanted_ = layer;
}

void Pipeline::retry_timing(std::int64_t layer) {
  timings_.erase(layer);
  timing_errors_.erase(layer);
  request_timing(layer);
}

std::shared_ptr<const LayerTiming> Pipeline::timing(std::int64_t layer) const {
  const auto found = timings_.find(layer);
  return found == timings_.end() ? nullptr : found->second;
}

std::string Pipeline::timing_error(std::int64_t layer) const {
  const auto found = timing_errors_.find(layer);
  return found == timing_errors_.end() ? std::string() : found->second;
}

bool Pipeline::timing_running(std::int64_t layer) const {
  return job_ && job_->kind == Job::Kind::Timing && job_->layer == layer;
}

void Pipeline::poll() {
  if (job_ && job_->done.load()) finish_job();
  if (!job_) start_next_job();
}

void Pipeline::finish_job() {
  worker_.join();
  std::unique_ptr<Job> job = std::move(job_);
  cancel_ = false;
  if (job->kind == Job::Kind::Forward) {
    const bool current = job->settings == settings_;
    cancelled_ = job->cancelled && current;  // a cancel caused by a settings change is no news
    error_ = job->error;
    if (job->result) {
      job->result->generation = next_generation_++;
      result_ = std::move(job->result);
      timings_.clear();
      timing_errors_.clear();
    } else if (current) {
      on_hold_ = job->settings;  // failed or cancelled by the user: wait for a change or retry()
    }
  } else {
    if (job->timing && result_ && job->base == result_) timings_[job->layer] = std::move(job->timing);
    if (!job->error.empty() && job->base == result_) timing_errors_[job->layer] = job->error;
    if (job->cancelled && job->base == result_) timing_errors_[job->layer] = "cancelled";
  }
}

void Pipeline::start_next_job() {
  auto job = std::make_unique<Job>();
  const bool forward_needed = !(result_ && result_->settings == settings_) && !(on_hold_ && *on_hold_ == settings_);
  if (forward_needed) {
    job->kind = Job::Kind::Forward;
    job->settings = settings_;
  } else if (timing_wanted_ && result_) {
    job->kind = Job::Kind::Timing;
    job->base = result_;
    job->layer = *timing_wanted_;
    timing_wanted_.reset();
    if (timings_.count(job->layer)) return;
  } else {
    return;
  }
  cancel_ = false;
  Job* running = job.get();
  job_ = std::move(job);
  // The worker touches only the job, models_, progress_ and cancel_ until it sets done.
  worker_ = std::thread([this, running] {
    try {
      if (running->kind == Job::Kind::Forward) {
        running->result = compute_pipeline_result(running->settings, models_, progress_, cancel_);
      } else {
        progress_.phase = ComputePhase::Timing;
        progress_.steps_done = 0;
        progress_.steps_total = 0;
        const LayerTiming timing = running->base->settings.backend == Backend::Cuda
                                       ? time_layer_cuda(*running->base, running->layer, cancel_)
                                       : time_layer_cpu(*running->base, running->layer, cancel_);
        running->timing = std::make_shared<LayerTiming>(timing);
      }
    } catch (const ForwardCancelled&) {
      running->cancelled = true;
    } catch (const std::exception& error) {
      running->error = error.what();
    }
    progress_.phase = ComputePhase::Idle;
    running->done = true;
    if (wake_) wake_();
  });
}

}  // namespace dmascope::gui
