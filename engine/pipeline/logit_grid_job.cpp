#include "engine/pipeline/logit_grid_job.h"

#include <exception>

namespace dmascope::engine {

namespace {

bool same_view_but_window(const GridKey& a, const GridKey& b) {
  return a.generation == b.generation && a.layer == b.layer && a.head == b.head && a.quantity == b.quantity &&
         a.reduce == b.reduce && a.width == b.width && a.height == b.height;
}

}  // namespace

LogitGridJob::LogitGridJob(std::function<void()> wake) : wake_(std::move(wake)), worker_([this] { run(); }) {}

LogitGridJob::~LogitGridJob() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cancel_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void LogitGridJob::request(LogitGridRequest request) {
  {
    std::lock_guard lock(mutex_);
    if ((running_ && *running_ == request.key) || (queued_ && queued_->key == request.key)) return;
    // A grid of another result, head or grid size is useless: drop it. One that only shows another window (a pan or
    // zoom in progress) runs to its end, so that a long drag still updates the picture at the worker's pace.
    if (running_ && !same_view_but_window(*running_, request.key)) cancel_ = true;
    queued_ = std::move(request);
  }
  changed_.notify_all();
}

std::optional<FinishedLogitGrid> LogitGridJob::take_finished() {
  std::lock_guard lock(mutex_);
  auto finished = std::move(finished_);
  finished_.reset();
  return finished;
}

bool LogitGridJob::busy() const {
  std::lock_guard lock(mutex_);
  return running_.has_value() || queued_.has_value();
}

void LogitGridJob::run() {
  for (;;) {
    LogitGridRequest job;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || queued_.has_value(); });
      if (stopping_) return;
      job = std::move(*queued_);
      queued_.reset();
      running_ = job.key;
      cancel_ = false;
    }
    FinishedLogitGrid finished{job.key, {}, {}};
    job.options.cancel = &cancel_;
    try {
      finished.grid = compute_logit_grid(*job.result, job.view, job.options);
    } catch (const std::exception& error) {
      finished.error = error.what();
    }
    const bool delivered = !finished.grid.cancelled;
    {
      std::lock_guard lock(mutex_);
      running_.reset();
      if (delivered) finished_ = std::move(finished);
    }
    if (delivered && wake_) wake_();
  }
}

}  // namespace dmascope::engine
