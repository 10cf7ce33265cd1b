// The desktop app: one AppState (pipeline + view + renderer) and the per-frame drawing of its panels. GlWindow
// (gl_window.h) owns the window and the ImGui context; main.cpp drives the loop and the screenshot mode.
#pragma once

#include <filesystem>
#include <optional>

#include "app/gui/app_state.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/session/session_file.h"
#include "engine/session/tour_file.h"

namespace dmascope::gui {

struct AppOptions {
  Session session;              // initial settings and view
  bool deterministic = false;   // screenshot mode
  // Someone uses this run: it reads and writes the user's recent-models list (recent_models.h). False for runs that
  // only render or measure (--screenshot, --measure, --headless, --present with --screenshot): they leave the user's
  // files alone (main.cpp gives them no imgui.ini either).
  bool interactive = true;
  std::filesystem::path default_model;
  std::optional<Tour> tour;     // start in presenter mode on this tour (--present)
  std::size_t tour_step = 0;    // at this step, 0-based (--step K is 1-based)
  bool show_about = false;      // open the About / Tour window (--about)
  std::int64_t beta_key = -1;   // open the β pipeline window on this key (--beta-key); -1: closed
  bool open_lab = false;        // open the Mask lab and run it on the first result (--lab)
  std::string lab_tab;          // with open_lab: the lab view shown first ("A/B", "DAM stages", ...; --lab-tab)
};

class App {
 public:
  explicit App(const AppOptions& options);  // needs the GL context (GlWindow) to exist
  // Between GlWindow::begin_frame() and end_frame(); key_presses: GlWindow::take_key_presses().
  void frame(std::vector<KeyPress> key_presses = {});

  // The pipeline has nothing left to do for the current settings and the views show its result.
  bool settled() const;
  std::string pipeline_error() const { return state_.pipeline.status().error; }
  Session session() const;
  const FrameLayout& layout() const { return state_.layout; }
  std::optional<PngRequest> take_png_request();  // written with export_file_action into the export folder
  bool quit_requested() const { return state_.quit_requested; }
  // Whether imgui.ini may record the layout now: not the presentation's layout, which is not the user's.
  bool layout_may_be_saved() const { return !state_.presenter.ini_suspended; }
  AppState& state() { return state_; }  // for drivers that move the view themselves (FrameBenchmark)

 private:
  void keep_view_in_range();
  AppState state_;
};

}  // namespace dmascope::gui
