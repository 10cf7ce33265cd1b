// 256-entry colour lookup tables for the heatmaps (uploaded as a 256×1 texture that the fragment shader indexes, see
// shaders/grid.frag), and the fixed colours of the tile map and of cells above the causal diagonal. Shared with the
// screenshot tests, which check pixels against these exact bytes.
#pragma once

#include <array>
#include <cstdint>

#include "app/gui/view_state.h"

namespace dmascope::gui {

using Rgb = std::array<std::uint8_t, 3>;
using ColormapTable = std::array<Rgb, 256>;

const ColormapTable& colormap_table(Colormap colormap);

// Lookup index of a value already normalised to [0, 1], exactly as the shader computes it.
int colormap_index(float normalised);

// Tile statuses (TileStatus 0/1/2): skipped, partial, full. Okabe–Ito colours, distinct for colour-blind viewers.
inline constexpr Rgb kTileSkippedColor = {70, 70, 78};
inline constexpr Rgb kTilePartialColor = {230, 159, 0};
inline constexpr Rgb kTileFullColor = {0, 114, 178};
// A table whose entries 0, 1, 2 are the tile colours (the rest unused), for the shader's categorical mode.
const ColormapTable& tile_status_table();

// Pixels with no causally allowed cell (above the diagonal): neither kept nor dropped.
inline constexpr Rgb kAboveDiagonalColor = {38, 38, 46};

}  // namespace dmascope::gui
