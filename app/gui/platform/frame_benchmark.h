// `dmascope --measure OUT.json`: drives the running app through the moves its frame-rate and latency targets are set
// for and writes what it saw. Frames are timed end to end (poll, reduce, upload, draw, swap with vsync off), so the
// frame rate is what the app can sustain, not the monitor's refresh:
//   1. settle   — the first result of the session (its compute time is recorded);
//   2. pan      — zoomed in (8× by default, the heatmap then shows L/8 tokens a side) and dragged 12 px per frame
//                 along the diagonal for `pan_frames` frames: every frame reduces a new window of the mask;
//   3. zoom     — zoom in and out by wheel steps about the centre, `zoom_frames` frames;
//   4. recompute — the window slider moves (w → w' → w → …) `recomputes` times; each time from the edit to the first
//                 frame that shows the new result (the UI keeps drawing meanwhile: its frame times are kept too).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "app/gui/app_state.h"

namespace dmascope::gui {

struct FrameBenchmarkOptions {
  int pan_frames = 300, zoom_frames = 120, recomputes = 6;
  double pan_zoom = 8.0;
  std::int64_t alternate_window = 0;  // w' of the recompute moves; 0 = the current w + 32
};

class FrameBenchmark {
 public:
  explicit FrameBenchmark(FrameBenchmarkOptions options = {}) : options_(options) {}
  // Call before App::frame() every frame: moves the view or the settings for the next phase.
  void before_frame(AppState& state);
  bool done() const { return phase_ == Phase::Done; }
  // The report as JSON (also what --measure writes).
  std::string report_json(const AppState& state, const std::string& device) const;

 private:
  enum class Phase { Settle, Pan, Zoom, Recompute, Done };
  using Clock = std::chrono::steady_clock;
  void record_frame_time(std::vector<double>& into);

  FrameBenchmarkOptions options_;
  Phase phase_ = Phase::Settle;
  int frames_in_phase_ = 0;
  Clock::time_point last_frame_{}, phase_start_{}, edit_time_{};
  bool have_last_frame_ = false;
  bool waiting_for_result_ = false;
  std::uint64_t generation_before_edit_ = 0;
  std::int64_t base_window_ = 0;
  double first_compute_ms_ = 0;
  std::vector<double> pan_ms_, zoom_ms_, recompute_frame_ms_, recompute_ms_, recompute_pipeline_ms_;
  double pan_seconds_ = 0, zoom_seconds_ = 0;
};

}  // namespace dmascope::gui
