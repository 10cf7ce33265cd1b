// The tile map panel's second picture (CUDA backend): the kernel's own 64×64 tile statuses, or each CTA's time as a
// heat colour with a legend in µs, over the same part of the matrix as the CPU tile map beside it.
#pragma once

#include <imgui.h>

#include "app/gui/app_state.h"
#include "core/view/view_geometry.h"

namespace dmascope::gui {

// The line under the pictures' legend: the layer toggle, the kernel map's densities, its state (running, error).
void draw_kernel_tile_controls(AppState& state, const PipelineResult& result);
// The picture itself, side × side at `origin`; nothing when the map is not there yet.
void draw_kernel_tile_view(AppState& state, const PipelineResult& result, const MatrixWindow& window, ImVec2 origin,
                           float side);

}  // namespace dmascope::gui
