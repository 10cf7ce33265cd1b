// Presenter mode: a tour (tour_file.h) shown step by step with large fonts and a caption bar under the panels.
// Entering applies the step's session the way loading a session does (settings to the pipeline, the view once their
// result arrives). Each step lays out the one or two panels it talks about (TourStep::panels; the rest, the Source
// panel included, are hidden) and outlines the region its caption explains (TourStep::highlight). Leaving gives the
// user back exactly what was there: the panels' places, the settings (model, tokens, compute) and the view; imgui.ini
// is not written meanwhile. Full screen is the window's business: main.cpp follows PresenterState::active.
#pragma once

#include <cstddef>

#include "app/gui/app_state.h"

namespace dmascope::gui {

void start_presenter(AppState& state, Tour tour, std::size_t step);  // step: 0-based, clamped to the tour
// Starts the bundled tour (or resumes the last one); a tour that does not load is reported in ui_error.
void start_bundled_tour(AppState& state);
void stop_presenter(AppState& state);
void show_tour_step(AppState& state, std::size_t step);  // clamped; applies the step's session

// Whether this frame draws `panel`: always when not presenting, else when the step lays it out.
bool presenter_shows(const AppState& state, TourPanel panel);
// The region the current step outlines (None when not presenting): a panel may show more there (the death indices).
TourHighlight presenter_highlight(const AppState& state);

// Takes this frame's presenter keys out of state.key_presses (so that the normal shortcuts do not see them):
// → PageDown Space: next; ← PageUp: previous; Home/End: first/last; Esc: leave. F11 toggles presenter mode anywhere.
void handle_presenter_keys(AppState& state);

// Before the panels: pushes the large font and moves the panels to the presentation layout. After the panels:
// draws the caption bar and pops the font. No-ops when not presenting.
void begin_presenter_frame(AppState& state);
void end_presenter_frame(AppState& state);

}  // namespace dmascope::gui
