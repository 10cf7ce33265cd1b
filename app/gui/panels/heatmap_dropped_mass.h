// The heatmap's dropped-mass overlay: for the head on screen and a chosen strategy at the result's w, the dense
// probability (with β) of every entry the strategy dropped, max per pixel of the visible window, blended over the
// heatmap so that the mask and what it lost are seen together. Computed by the lab's row-chunked code
// (core/lab/lab_metrics.h dropped_mass_grid) on a worker (LabPictureJob), never on the UI thread.
#pragma once

#include <memory>

#include "app/gui/app_state.h"

namespace dmascope::gui {

// The toolbar's toggle, strategy picker and legend (a ramp from 0 to the largest dropped probability in view).
void draw_dropped_mass_controls(AppState& state);
// Asks for the picture of the current view when the overlay is on, and uploads a finished one.
void update_dropped_mass(AppState& state, const std::shared_ptr<const PipelineResult>& result,
                         const MatrixWindow& window, std::int64_t texels);
// Draws the overlay over the matrix at [origin, origin + side) when on and its picture matches the view.
void draw_dropped_mass_overlay(AppState& state, ImVec2 origin, float side);

}  // namespace dmascope::gui
