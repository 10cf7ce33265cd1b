#include "app/gui/platform/frame_benchmark.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace dmascope::gui {

namespace {

constexpr double kPanPixelsPerFrame = 12.0;
constexpr double kZoomStepPerFrame = 1.1;   // one wheel notch
constexpr int kZoomFramesPerDirection = 30;

nlohmann::json summary(std::vector<double> ms, bool frames = true) {
  if (ms.empty()) return nullptr;
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
  double total = 0;
  for (double value : ms) total += value;
  nlohmann::json out = {{"count", ms.size()}, {"median_ms", at(0.5)}, {"p95_ms", at(0.95)}, {"max_ms", ms.back()},
                        {"mean_ms", total / ms.size()}};
  if (frames) {
    out["fps_from_median"] = 1000.0 / at(0.5);
    out["fps_mean"] = 1000.0 * ms.size() / total;  // frames per second of wall time over the phase
  }
  return out;
}

}  // namespace

void FrameBenchmark::record_frame_time(std::vector<double>& into) {
  const Clock::time_point now = Clock::now();
  if (have_last_frame_) into.push_back(std::chrono::duration<double, std::milli>(now - last_frame_).count());
  last_frame_ = now;
  have_last_frame_ = true;
}

void FrameBenchmark::before_frame(AppState& state) {
  const auto result = state.pipeline.result();
  const double side = std::max(64.0f, state.layout.heatmap_side);
  switch (phase_) {
    case Phase::Settle: {
      const bool settled = result && !state.pipeline.result_is_stale() && state.pipeline.settled() &&
                           !state.pending_view && state.layout.heatmap_drawn;
      if (!settled) return;
      first_compute_ms_ = result->compute_ms;
      base_window_ = result->forward.window;
      const std::int64_t L = result->length();
      // Start zoomed in on the diagonal a quarter of the way down, where every row has its full budget.
      state.view.zoom_pan = clamp_zoom_pan({options_.pan_zoom, L * 0.25, L * 0.25}, L, side);
      phase_ = Phase::Pan;
      frames_in_phase_ = 0;
      have_last_frame_ = false;
      phase_start_ = Clock::now();
      return;
    }
    case Phase::Pan: {
      record_frame_time(pan_ms_);
      if (++frames_in_phase_ > options_.pan_frames) {
        pan_seconds_ = std::chrono::duration<double>(Clock::now() - phase_start_).count();
        phase_ = Phase::Zoom;
        frames_in_phase_ = 0;
        have_last_frame_ = false;
        phase_start_ = Clock::now();
        return;
      }
      // Drag up-left: the content moves, the centre walks down the diagonal.
      state.view.zoom_pan =
          pan_by_pixels(state.view.zoom_pan, result->length(), side, -kPanPixelsPerFrame, -kPanPixelsPerFrame);
      return;
    }
    case Phase::Zoom: {
      record_frame_time(zoom_ms_);
      if (++frames_in_phase_ > options_.zoom_frames) {
        zoom_seconds_ = std::chrono::duration<double>(Clock::now() - phase_start_).count();
        phase_ = Phase::Recompute;
        frames_in_phase_ = 0;
        have_last_frame_ = false;
        return;
      }
      const bool zoom_in = (frames_in_phase_ / kZoomFramesPerDirection) % 2 == 0;
      state.view.zoom_pan = zoom_about(state.view.zoom_pan, result->length(), side,
                                       zoom_in ? kZoomStepPerFrame : 1.0 / kZoomStepPerFrame, 0.5, 0.5);
      return;
    }
    case Phase::Recompute: {
      if (waiting_for_result_) {
        record_frame_time(recompute_frame_ms_);
        if (!result || result->generation == generation_before_edit_ || state.pipeline.result_is_stale()) return;
        // This frame draws the new result: the edit-to-picture time ends here.
        recompute_ms_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - edit_time_).count());
        recompute_pipeline_ms_.push_back(result->compute_ms);
        waiting_for_result_ = false;
        return;
      }
      if (!state.pipeline.settled()) return;  // e.g. a timing still running: wait, it is not part of the move
      if (static_cast<int>(recompute_ms_.size()) >= options_.recomputes) {
        phase_ = Phase::Done;
        return;
      }
      const std::int64_t other = options_.alternate_window > 0 ? options_.alternate_window : base_window_ + 32;
      state.edit = state.pipeline.settings();
      state.edit.window = recompute_ms_.size() % 2 == 0 ? other : base_window_;
      generation_before_edit_ = result ? result->generation : 0;
      state.pipeline.set_settings(state.edit);
      edit_time_ = Clock::now();
      have_last_frame_ = false;
      waiting_for_result_ = true;
      return;
    }
    case Phase::Done: return;
  }
}

std::string FrameBenchmark::report_json(const AppState& state, const std::string& device) const {
  const auto result = state.pipeline.result();
  const PipelineSettings& settings = state.pipeline.settings();
  nlohmann::json report = {
      {"device", device},
      {"backend", std::string(backend_name(settings.backend))},
      {"model", settings.model_dir},
      {"length", result ? result->length() : 0},
      {"window", base_window_},
      {"tile_size", settings.tile_size},
      {"heatmap_pixels", state.layout.heatmap_side},
      {"first_compute_ms", first_compute_ms_},
      {"pan", summary(pan_ms_)},
      {"pan_seconds", pan_seconds_},
      {"pan_zoom", options_.pan_zoom},
      {"zoom", summary(zoom_ms_)},
      {"zoom_seconds", zoom_seconds_},
      {"recompute_edit_to_frame", summary(recompute_ms_, false)},
      {"recompute_pipeline", summary(recompute_pipeline_ms_, false)},
      {"frames_while_recomputing", summary(recompute_frame_ms_)},
  };
  return report.dump(2) + "\n";
}

}  // namespace dmascope::gui
