// Presenter mode: a tour (tour_file.h) shown step by step with large fonts and a caption bar under the panels.
// Entering applies the step's session the way loading a session does (settings to the pipeline, the view once their
// result arrives); the Source panel is hidden and the other panels take a fixed presentation layout, given back when
// the presentation ends. Full screen is the window's business: main.cpp follows PresenterState::active.
#pragma once

#include <cstddef>

#include "app/gui/app_state.h"

namespace dmascope::gui {

void start_presenter(AppState& state, Tour tour, std::size_t step);  // step: 0-based, clamped to the tour
// Starts the bundled tour (or resumes the last one); a tour that does not load is reported in ui_error.
void start_bundled_tour(AppState& state);
void stop_presenter(AppState& state);
void show_tour_step(AppState& state, std::size_t step);  // clamped; applies the step's session

// Takes this frame's presenter keys out of state.key_presses (so that the normal shortcuts do not see them):
// → PageDown Space: next; ← PageUp: previous; Home/End: first/last; Esc: leave. F11 toggles presenter mode anywhere.
void handle_presenter_keys(AppState& state);

// Before the panels: pushes the large font and moves the panels to the presentation layout. After the panels:
// draws the caption bar and pops the font. No-ops when not presenting.
void begin_presenter_frame(AppState& state);
void end_presenter_frame(AppState& state);

}  // namespace dmascope::gui
