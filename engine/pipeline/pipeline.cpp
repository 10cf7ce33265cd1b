#include "engine/pipeline/pipeline.h"

#include "engine/timing/layer_timing.h"
#include "core/base/error.h"

namespace dmascope::engine {

struct Pipeline::Job {
  enum class Kind { Forward, Timing, Sweep, KernelTiles } kind = Kind::Forward;
  PipelineSettings settings;                    // Forward
  std::shared_ptr<const PipelineResult> base;   // the others: the result to time or instrument
  std::int64_t layer = 0;                       // the others
  SweepKind sweep_kind = SweepKind::Length;     // Sweep
  std::vector<std::int64_t> points;             // Sweep
  std::atomic<bool> done{false};
  // Written by the worker before `done` is set, read by the UI after it saw `done`.
  std::shared_ptr<PipelineResult> result;
  std::shared_ptr<LayerTiming> timing;
  std::shared_ptr<TimingSweep> sweep;
  std::shared_ptr<KernelTileMap> kernel_tiles;
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
  sweep_wanted_.reset();
  kernel_tiles_wanted_.reset();
}

void Pipeline::retry() {
  on_hold_.reset();
  error_.clear();
  cancelled_ = false;
  // Recompute even an up-to-date result, keeping it on screen (marked stale) until the new one replaces it.
  if (result_ && result_->settings == settings_) recompute_current_ = true;
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
  const bool forward_pending =
      (recompute_current_ || !(result_ && result_->settings == settings_)) && !(on_hold_ && *on_hold_ == settings_);
  return !job_ && !forward_pending && !timing_wanted_ && !sweep_wanted_ && !kernel_tiles_wanted_;
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

void Pipeline::request_sweep(SweepKind kind, std::int64_t layer, std::vector<std::int64_t> points) {
  if (!result_) return;
  sweeps_.erase(kind);
  sweep_errors_.erase(kind);
  sweep_wanted_ = SweepRequest{kind, layer, std::move(points)};
}

std::shared_ptr<const TimingSweep> Pipeline::sweep(SweepKind kind) const {
  const auto found = sweeps_.find(kind);
  return found == sweeps_.end() ? nullptr : found->second;
}

std::string Pipeline::sweep_error(SweepKind kind) const {
  const auto found = sweep_errors_.find(kind);
  return found == sweep_errors_.end() ? std::string() : found->second;
}

bool Pipeline::sweep_running(SweepKind kind) const {
  return job_ && job_->kind == Job::Kind::Sweep && job_->sweep_kind == kind;
}

bool Pipeline::sweep_pending(SweepKind kind) const { return sweep_wanted_ && sweep_wanted_->kind == kind; }

void Pipeline::request_kernel_tiles(std::int64_t layer) {
  if (!result_ || kernel_tiles_.count(layer) || kernel_tiles_errors_.count(layer)) return;
  kernel_tiles_wanted_ = layer;
}

std::shared_ptr<const KernelTileMap> Pipeline::kernel_tiles(std::int64_t layer) const {
  const auto found = kernel_tiles_.find(layer);
  return found == kernel_tiles_.end() ? nullptr : found->second;
}

std::string Pipeline::kernel_tiles_error(std::int64_t layer) const {
  const auto found = kernel_tiles_errors_.find(layer);
  return found == kernel_tiles_errors_.end() ? std::string() : found->second;
}

bool Pipeline::kernel_tiles_running(std::int64_t layer) const {
  return job_ && job_->kind == Job::Kind::KernelTiles && job_->layer == layer;
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
      if (result_->settings == settings_) recompute_current_ = false;
      timings_.clear();
      timing_errors_.clear();
      sweeps_.clear();
      sweep_errors_.clear();
      sweep_wanted_.reset();  // a sweep belongs to the result it was asked for
      kernel_tiles_.clear();
      kernel_tiles_errors_.clear();
    } else if (current) {
      on_hold_ = job->settings;  // failed or cancelled by the user: wait for a change or retry()
    }
  } else if (job->kind == Job::Kind::Timing) {
    if (job->timing && result_ && job->base == result_) timings_[job->layer] = std::move(job->timing);
    if (!job->error.empty() && job->base == result_) timing_errors_[job->layer] = job->error;
    if (job->cancelled && job->base == result_) timing_errors_[job->layer] = "cancelled";
  } else if (job->kind == Job::Kind::Sweep) {
    if (job->sweep && job->base == result_) sweeps_[job->sweep_kind] = std::move(job->sweep);
    if (!job->error.empty() && job->base == result_) sweep_errors_[job->sweep_kind] = job->error;
    if (job->cancelled && job->base == result_) sweep_errors_[job->sweep_kind] = "cancelled";
  } else {
    if (job->kernel_tiles && job->base == result_) kernel_tiles_[job->layer] = std::move(job->kernel_tiles);
    if (!job->error.empty() && job->base == result_) kernel_tiles_errors_[job->layer] = job->error;
    if (job->cancelled && job->base == result_) kernel_tiles_errors_[job->layer] = "cancelled";
  }
}

void Pipeline::start_next_job() {
  auto job = std::make_unique<Job>();
  const bool forward_needed =
      (recompute_current_ || !(result_ && result_->settings == settings_)) && !(on_hold_ && *on_hold_ == settings_);
  if (forward_needed) {
    job->kind = Job::Kind::Forward;
    job->settings = settings_;
  } else if (kernel_tiles_wanted_ && result_) {
    // Before timings: a short untimed run, and instrumentation never overlaps a timing (one job at a time).
    job->kind = Job::Kind::KernelTiles;
    job->base = result_;
    job->layer = *kernel_tiles_wanted_;
    kernel_tiles_wanted_.reset();
  } else if (timing_wanted_ && result_) {
    job->kind = Job::Kind::Timing;
    job->base = result_;
    job->layer = *timing_wanted_;
    timing_wanted_.reset();
    if (timings_.count(job->layer)) return;
  } else if (sweep_wanted_ && result_) {
    job->kind = Job::Kind::Sweep;
    job->base = result_;
    job->sweep_kind = sweep_wanted_->kind;
    job->layer = sweep_wanted_->layer;
    job->points = std::move(sweep_wanted_->points);
    sweep_wanted_.reset();
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
        progress_.steps_total = running->kind == Job::Kind::Sweep ? static_cast<std::int64_t>(running->points.size()) : 0;
        const PipelineResult& base = *running->base;
        const TimingOptions options = timing_options_for(base.settings);
        if (running->kind == Job::Kind::Timing) {
          running->timing = std::make_shared<LayerTiming>(time_layer(base, running->layer, options, cancel_));
        } else if (running->kind == Job::Kind::Sweep) {
          TimingOptions sweep_options = options;
          // A sweep has many points: a shorter CPU budget per variant keeps it to about a minute on two cores.
          sweep_options.cpu_budget_ms = 500;
          sweep_options.cpu_max_repeats = 5;
          running->sweep = std::make_shared<TimingSweep>(run_timing_sweep(
              base, running->sweep_kind, running->layer, sweep_options, running->points,
              [this](std::int64_t done, std::int64_t total) {
                progress_.steps_total = total;
                progress_.steps_done = done;
              },
              cancel_));
        } else {
          running->kernel_tiles = std::make_shared<KernelTileMap>(
              instrument_layer_cuda(base, running->layer, base.settings.timing_dtype));
        }
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

}  // namespace dmascope::engine
