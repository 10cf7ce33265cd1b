// Level of detail: reduces what a head holds to the grid of pixels a view shows, without ever building an L×L
// buffer for the mask. The compact mask (keep(i, j) ⇔ j ≤ i < death[j], core/dma_mask.h) is reduced row band by row
// band in O(view height × visible keys); dense probabilities (only captured at small L) in O(visible cells).
//
// Every grid is row-major [height, width], row 0 at the top (first query row), one value per output pixel:
//   Mean: the fraction (mask) or mean (values) over the causally allowed cells (key ≤ query) the pixel covers;
//   Max:  1 if any covered allowed cell is kept (mask), else the largest value.
// A pixel that covers no allowed cell (wholly above the diagonal) holds kNoCausalCell, so a view can draw it apart.
// Which cells a pixel covers is cells_of_pixel (core/view_geometry.h), the rule the hover lookup shares.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/attention_cpu.h"
#include "core/view_geometry.h"

namespace dmascope {

enum class ReduceMode { Mean, Max };
std::string_view reduce_mode_name(ReduceMode mode);         // "mean" | "max"
ReduceMode reduce_mode_from_name(std::string_view name);    // throws Error otherwise

inline constexpr float kNoCausalCell = -1.0f;

// death: one bias head's death indices, length L (query rows = keys = L).
std::vector<float> reduce_mask_to_grid(std::span<const std::int32_t> death, const MatrixWindow& window,
                                       std::int64_t width, std::int64_t height, ReduceMode mode);

// values: [L, L] row-major (e.g. one head's attention probabilities).
std::vector<float> reduce_matrix_to_grid(std::span<const float> values, std::int64_t length, const MatrixWindow& window,
                                         std::int64_t width, std::int64_t height, ReduceMode mode);

// One value per key (β) reduced to `width` columns over [col_begin, col_end).
std::vector<float> reduce_keys_to_strip(std::span<const float> per_key, double col_begin, double col_end,
                                        std::int64_t width, ReduceMode mode);

// Tile statuses (TileStatus values 0/1/2, the largest over the causal tiles a pixel covers) for a square L×L map;
// kNoCausalCell where the pixel covers only tiles wholly above the diagonal (diagonal tiles are drawn whole).
std::vector<float> reduce_tile_map_to_grid(const TileMap& map, std::int64_t length, const MatrixWindow& window,
                                           std::int64_t width, std::int64_t height);

}  // namespace dmascope
