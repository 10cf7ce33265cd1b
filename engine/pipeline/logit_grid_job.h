// The logits and probabilities views' reduction on a worker thread: zoomed out on a long sequence a grid costs up to tens of millions
// of dot products, which must not stall a frame. The heatmap asks for the grid of the current view every frame; only
// the newest request waits. A request for another result, head, reduction or grid size cancels the running grid
// (core checks the flag per pixel row); one for another window of the same view lets it finish (see request()).
// The request holds the result it reads from (shared_ptr), so the captures (host or device) outlive the reduction.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/pipeline/grid_key.h"
#include "engine/pipeline/logit_view.h"
#include "engine/pipeline/pipeline_result.h"
#include "core/view/view_reduce.h"

namespace dmascope::engine {

struct LogitGridRequest {
  GridKey key;
  std::shared_ptr<const PipelineResult> result;
  LogitViewRequest view;
  LogitGridOptions options;  // its cancel flag is the job's own
};

struct FinishedLogitGrid {
  GridKey key;
  LogitGrid grid;
  std::string error;  // the reduction threw (bad captures): the panel shows this instead
};

class LogitGridJob {
 public:
  explicit LogitGridJob(std::function<void()> wake);  // wake: called from the worker when a grid is ready
  ~LogitGridJob();                                     // cancels and joins
  LogitGridJob(const LogitGridJob&) = delete;
  LogitGridJob& operator=(const LogitGridJob&) = delete;

  // Starts (or queues) `request` unless it is already the running or queued one.
  void request(LogitGridRequest request);
  std::optional<FinishedLogitGrid> take_finished();  // the newest finished grid, once
  bool busy() const;                                  // a grid is being reduced or waits

 private:
  void run();

  std::function<void()> wake_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<LogitGridRequest> queued_;
  std::optional<GridKey> running_;
  std::optional<FinishedLogitGrid> finished_;
  std::atomic<bool> cancel_{false};
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace dmascope::engine
