#include "app/gui/app.h"

#include <imgui.h>

#include <algorithm>

#include "app/gui/platform/gl_window.h"
#include "app/gui/panels/lab_views.h"
#include "app/gui/panels/panels.h"
#include "app/gui/presenter/presenter.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/pipeline/toy_answers.h"

namespace dmascope::gui {

App::App(const AppOptions& options) : state_(&GlWindow::post_empty_event) {
  state_.deterministic = options.deterministic;
  state_.default_model = options.default_model;
  state_.edit = options.session.settings;
  if (state_.edit.model_dir.empty()) state_.edit.model_dir = options.default_model.string();
  state_.pending_view = options.session.view;
  state_.renderer = std::make_unique<GridRenderer>();
  if (!options.deterministic)  // screenshots show no list that depends on the machine
    state_.cached_models = find_cached_models(huggingface_hub_dir());
  if (options.interactive) {  // an empty recent_models_path is never written (source_panel.cpp)
    state_.recent_models_path = recent_models_file();
    state_.recent_models = load_recent_models(state_.recent_models_path);
  }
  state_.about.open = options.show_about;
  if (options.beta_key >= 0) state_.beta_window = {true, options.beta_key, false};
  apply_lab_session_settings(state_.lab, options.session.lab);
  if (options.open_lab) state_.lab.open = state_.lab.run_requested = true;
  state_.lab.select_tab = options.lab_tab;
  if (options.tour) start_presenter(state_, *options.tour, options.tour_step);  // its step's settings win
  state_.pipeline.set_settings(state_.edit);
}

void App::keep_view_in_range() {
  const auto result = state_.pipeline.result();
  if (!result) return;
  ViewState& view = state_.view;
  if (state_.pending_view && !state_.pipeline.result_is_stale()) {
    view = *state_.pending_view;
    state_.pending_view.reset();
  }
  view.layer = std::clamp<std::int64_t>(view.layer, 0, result->layers() - 1);
  view.head = std::clamp<std::int64_t>(view.head, 0, result->q_heads() - 1);
  if (!result->answers || state_.selected_answer >= result->answers->total()) state_.selected_answer = -1;
  if (view.zoom_pan_length != result->length()) {  // a new length: start from the whole matrix
    view.zoom_pan = whole_matrix(result->length());
    view.zoom_pan_length = result->length();
  }
}

void App::frame(std::vector<KeyPress> key_presses) {
  state_.key_presses = std::move(key_presses);
  state_.pipeline.poll();
  state_.renderer->begin_frame();
  keep_view_in_range();
  // Screenshots take only the keys main.cpp scripts (--keys); it hands them no others.
  if (!state_.deterministic || !state_.key_presses.empty()) {
    handle_presenter_keys(state_);  // first: it takes the keys it uses (arrows, Esc) while presenting
    handle_shortcuts(state_);
  }
  keep_view_in_range();
  state_.layout.texts.clear();
  state_.layout.regions.clear();
  // What the frame shows, also when a presentation step hides the heatmap (which records the same, and where).
  if (const auto result = state_.pipeline.result()) {
    state_.layout.length = result->length();
    state_.layout.layer = state_.view.layer;
    state_.layout.head = state_.view.head;
    state_.layout.bias_head = result->bias_head_of(state_.view.head);
  }
  begin_presenter_frame(state_);  // presenting: large font, the step's panels only, no Source panel
  if (!state_.presenter.active) draw_source_panel(state_);
  if (presenter_shows(state_, TourPanel::Overview)) draw_overview_panel(state_);
  if (presenter_shows(state_, TourPanel::Heatmap)) draw_heatmap_panel(state_);
  else state_.layout.heatmap_drawn = false;
  if (presenter_shows(state_, TourPanel::TileMap)) draw_tile_map_panel(state_);
  else state_.layout.tiles_drawn = false;
  if (presenter_shows(state_, TourPanel::Timing)) draw_timing_panel(state_);
  if (!state_.presenter.active) draw_lab_window(state_);
  draw_status_bar(state_);
  draw_help_window(state_);
  draw_about_window(state_);
  if (!state_.presenter.active) draw_beta_pipeline_window(state_);
  end_presenter_frame(state_);  // the caption bar
  if (state_.edit_complete) {
    state_.edit_complete = false;
    state_.pipeline.set_settings(state_.edit);
  }
}

Session App::session() const {
  return Session{state_.pipeline.settings(), state_.view, lab_session_settings(state_.lab)};
}

bool App::settled() const {
  const auto result = state_.pipeline.result();
  // The heatmap's dropped-mass overlay, when on: its picture of this view is there (or its error).
  const HeatmapPanelState& heatmap = state_.heatmap;
  const bool overlay_settled =
      !heatmap.show_dropped_mass || !result || state_.view.quantity == HeatmapQuantity::Logits ||
      (heatmap.dropped_job && !heatmap.dropped_job->busy() &&
       heatmap.dropped_job->finished().key == heatmap.dropped_job->wanted_key());
  return state_.pipeline.settled() && (!result || !state_.pipeline.result_is_stale()) && !state_.lab.run_requested &&
         state_.lab.runner.settled() && !state_.lab.dropped_job.busy() && !state_.lab.ab_job.busy() &&
         overlay_settled;
}

std::optional<PngRequest> App::take_png_request() {
  auto request = std::move(state_.png_request);
  state_.png_request.reset();
  return request;
}

}  // namespace dmascope::gui
