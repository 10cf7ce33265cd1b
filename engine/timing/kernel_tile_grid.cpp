#include "engine/timing/kernel_tile_grid.h"

#include <algorithm>
#include <limits>

#include "core/base/error.h"
#include "core/view/view_reduce.h"

namespace dmascope::engine {

TileMap kernel_status_map(const KernelTileMap& map, std::int64_t bias_head, std::int64_t length) {
  if (bias_head < 0 || bias_head >= map.bias_heads)
    fail("kernel tile map: bias head {} is out of range [0, {})", bias_head, map.bias_heads);
  TileMap tiles;
  tiles.shape = {map.tile_rows, map.tile_cols};
  tiles.q_tiles = map.q_tiles;
  tiles.k_tiles = map.k_tiles;
  const auto first = map.status.begin() + bias_head * map.q_tiles * map.k_tiles;
  tiles.status.assign(first, first + map.q_tiles * map.k_tiles);
  for (std::int64_t qt = 0; qt < map.q_tiles; ++qt) {
    const std::int64_t last_row = std::min(length, (qt + 1) * map.tile_rows) - 1;
    for (std::int64_t kt = 0; kt < map.k_tiles; ++kt) {
      const auto status = static_cast<TileStatus>(tiles.status[static_cast<std::size_t>(qt * map.k_tiles + kt)]);
      const bool causal = kt * map.tile_cols <= last_row;
      tiles.causal_tiles += causal;
      (status == TileStatus::Skipped ? tiles.skipped : status == TileStatus::Partial ? tiles.partial : tiles.full) += 1;
    }
  }
  return tiles;
}

std::vector<float> kernel_status_grid(const KernelTileMap& map, std::int64_t bias_head, std::int64_t length,
                                      const MatrixWindow& window, std::int64_t width, std::int64_t height) {
  return reduce_tile_map_to_grid(kernel_status_map(map, bias_head, length), length, window, width, height);
}

std::vector<float> kernel_cta_grid(const KernelTileMap& map, std::int64_t q_head, std::int64_t length,
                                   const MatrixWindow& window, std::int64_t width, std::int64_t height) {
  if (q_head < 0 || q_head >= map.q_heads) fail("kernel tile map: head {} is out of range [0, {})", q_head, map.q_heads);
  const std::int64_t bias_head = map.bias_heads == map.q_heads ? q_head : q_head / (map.q_heads / map.bias_heads);
  // The status grid tells which pixels are wholly above the diagonal; every other pixel gets its rows' CTA time.
  std::vector<float> grid = kernel_status_grid(map, bias_head, length, window, width, height);
  for (std::int64_t y = 0; y < height; ++y) {
    const CellRange rows = cells_of_pixel(window.row_begin, window.row_end, height, y, length);
    double slowest = 0;
    for (std::int64_t qt = rows.begin / map.tile_rows; qt <= (std::max(rows.end, rows.begin + 1) - 1) / map.tile_rows && qt < map.q_tiles; ++qt)
      slowest = std::max(slowest, map.cta_us(q_head, qt));
    for (std::int64_t x = 0; x < width; ++x) {
      float& value = grid[static_cast<std::size_t>(y * width + x)];
      if (value != kNoCausalCell) value = static_cast<float>(slowest);
    }
  }
  return grid;
}

CtaTimeRange cta_time_range(const KernelTileMap& map, std::int64_t q_head) {
  CtaTimeRange range{std::numeric_limits<double>::infinity(), 0};
  for (std::int64_t qt = 0; qt < map.q_tiles; ++qt) {
    range.low_us = std::min(range.low_us, map.cta_us(q_head, qt));
    range.high_us = std::max(range.high_us, map.cta_us(q_head, qt));
  }
  if (map.q_tiles == 0) range.low_us = 0;
  return range;
}

}  // namespace dmascope::engine
