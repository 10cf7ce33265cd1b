// The one object that turns (source, settings) into results. Panels read results and write settings; any change of
// settings recomputes on a worker thread (one std::thread per job, one job at a time), so the UI never waits:
//   set_settings()  → the running job (if any) is cancelled and the new settings are computed next;
//   poll()          → called once per frame: collects a finished job and starts the next one;
//   result()        → the newest finished result, with the settings it came from (stale while those differ);
//   timing(layer)   → the layer's timing for the current result, computed on request after the result;
//   sweep(kind)     → a timing sweep over L or w for the current result, on request (a button), with progress;
//   kernel_tiles(l) → the CUDA kernel's own tile statuses and per-CTA times for a layer (an untimed run).
// Errors never escape: they are kept as text for the UI, and the failed settings are not retried until they change
// (or retry() is called). cancel() stops the running job the same way.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/pipeline/pipeline_compute.h"
#include "engine/pipeline/pipeline_result.h"

namespace dmascope::engine {

struct PipelineStatus {
  bool running = false;
  ComputePhase phase = ComputePhase::Idle;
  std::int64_t steps_done = 0, steps_total = 0;
  std::string error;        // the last job's error, empty when it succeeded
  bool cancelled = false;   // the last job was cancelled and its settings are on hold
};

class Pipeline {
 public:
  // `wake` is called from the worker when a job ends (e.g. glfwPostEmptyEvent, so that a sleeping UI redraws).
  explicit Pipeline(std::function<void()> wake = {});
  ~Pipeline();  // cancels and joins
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  const PipelineSettings& settings() const { return settings_; }
  void set_settings(const PipelineSettings& settings);
  void poll();
  void cancel();
  // Computes the current settings again after an error or a cancel, or on request (F5); a result for these settings
  // stays, marked stale, until the new one replaces it.
  void retry();

  std::shared_ptr<const PipelineResult> result() const { return result_; }
  bool result_is_stale() const { return result_ && (recompute_current_ || !(result_->settings == settings_)); }
  PipelineStatus status() const;
  // True when nothing runs or waits to run and no timing is pending: what the screenshot mode waits for.
  bool settled() const;

  // Timing of one layer of the current result on the settings' backend; requested once, then cached per result.
  void request_timing(std::int64_t layer);  // no-op when timed, failed or cancelled before
  void retry_timing(std::int64_t layer);    // forgets the old timing or error and times again
  std::shared_ptr<const LayerTiming> timing(std::int64_t layer) const;
  std::string timing_error(std::int64_t layer) const;
  bool timing_running(std::int64_t layer) const;

  // Sweeps (layer_timing.h): one per kind for the current result; a new request replaces the old sweep.
  void request_sweep(SweepKind kind, std::int64_t layer, std::vector<std::int64_t> points);
  std::shared_ptr<const TimingSweep> sweep(SweepKind kind) const;
  std::string sweep_error(SweepKind kind) const;
  bool sweep_running(SweepKind kind) const;
  bool sweep_pending(SweepKind kind) const;

  // The kernel's tile map of one layer (CUDA backend only); requested once, then cached per result.
  void request_kernel_tiles(std::int64_t layer);
  std::shared_ptr<const KernelTileMap> kernel_tiles(std::int64_t layer) const;
  std::string kernel_tiles_error(std::int64_t layer) const;
  bool kernel_tiles_running(std::int64_t layer) const;

 private:
  struct Job;
  void start_next_job();
  void finish_job();

  std::function<void()> wake_;
  PipelineSettings settings_;
  std::optional<PipelineSettings> on_hold_;  // failed or cancelled: not restarted until the settings change
  std::shared_ptr<const PipelineResult> result_;
  std::uint64_t next_generation_ = 1;
  std::string error_;
  bool cancelled_ = false;
  bool recompute_current_ = false;  // retry() on an up-to-date result: compute it again (result_is_stale meanwhile)

  std::map<std::int64_t, std::shared_ptr<const LayerTiming>> timings_;  // for result_, by layer
  std::map<std::int64_t, std::string> timing_errors_;
  std::optional<std::int64_t> timing_wanted_;
  struct SweepRequest {
    SweepKind kind;
    std::int64_t layer;
    std::vector<std::int64_t> points;
  };
  std::optional<SweepRequest> sweep_wanted_;
  std::map<SweepKind, std::shared_ptr<const TimingSweep>> sweeps_;
  std::map<SweepKind, std::string> sweep_errors_;
  std::map<std::int64_t, std::shared_ptr<const KernelTileMap>> kernel_tiles_;
  std::map<std::int64_t, std::string> kernel_tiles_errors_;
  std::optional<std::int64_t> kernel_tiles_wanted_;

  ModelCache models_;  // only touched by the worker; jobs never overlap
  ComputeProgress progress_;
  std::atomic<bool> cancel_{false};
  std::unique_ptr<Job> job_;  // the running job, or null
  std::thread worker_;
};

}  // namespace dmascope::engine
