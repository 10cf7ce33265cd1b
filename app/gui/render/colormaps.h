// 256-entry colour lookup tables for the heatmaps (uploaded as a 256×1 texture that the fragment shader indexes, see
// shaders/grid.frag), and the fixed colours of the tile map and of cells above the causal diagonal. Shared with the
// screenshot tests, which check pixels against these exact bytes.
#pragma once

#include <array>
#include <cstdint>

#include "app/gui/engine_vocabulary.h"
#include "engine/session/view_state.h"

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

// Pixels with no causally allowed cell (above the diagonal): neither kept nor dropped. Grid value kNoCausalCell (-1).
inline constexpr Rgb kAboveDiagonalColor = {38, 38, 46};
// Logits view: pixels whose allowed cells are all masked (the softmax sees -inf). Grid value kMaskedGridValue; drawn
// as 4-pixel diagonal stripes of this colour and kAboveDiagonalColor (stripe index ⌊x + y⌋ / 4 even: this colour,
// in GL window coordinates).
inline constexpr Rgb kMaskedColor = {84, 84, 100};  // subdued: kept values must stand out
inline constexpr float kMaskedGridValue = -2.0f;

}  // namespace dmascope::gui
