#include "core/view/view_reduce.h"

#include <algorithm>

#include "core/base/error.h"
#include "core/base/parallel.h"

namespace dmascope {

namespace {

void check_grid(std::int64_t width, std::int64_t height) {
  if (width < 1 || height < 1) fail("view reduction: grid {}x{} must be at least 1x1 pixels", width, height);
}

std::vector<CellRange> column_ranges(double begin, double end, std::int64_t width, std::int64_t cells) {
  std::vector<CellRange> ranges(static_cast<std::size_t>(width));
  for (std::int64_t x = 0; x < width; ++x) ranges[x] = cells_of_pixel(begin, end, width, x, cells);
  return ranges;
}

}  // namespace

std::string_view reduce_mode_name(ReduceMode mode) { return mode == ReduceMode::Mean ? "mean" : "max"; }

ReduceMode reduce_mode_from_name(std::string_view name) {
  if (name == "mean") return ReduceMode::Mean;
  if (name == "max") return ReduceMode::Max;
  fail("unknown reduction '{}' (expected mean or max)", name);
}

namespace {

float mask_pixel(std::int64_t kept, std::int64_t allowed, ReduceMode mode) {
  return mode == ReduceMode::Max ? (kept > 0 ? 1.0f : 0.0f)
                                 : static_cast<float>(static_cast<double>(kept) / static_cast<double>(allowed));
}

// Zoomed out: per pixel column, each key's kept rows [j, death_j) and allowed rows [j, ∞) are intervals, so the counts
// of every band come from the interval's two end bands plus a difference array for the bands in between:
// O(visible keys · log height + width · height) instead of O(visible keys · height). Same integers as the band loop.
void reduce_mask_by_intervals(std::span<const std::int32_t> death, const std::vector<CellRange>& columns,
                              const std::vector<std::int64_t>& band_starts, std::int64_t width, ReduceMode mode,
                              std::vector<float>& grid) {
  const auto height = static_cast<std::int64_t>(band_starts.size()) - 1;
  const std::int64_t first_row = band_starts.front(), end_row = band_starts.back();
  auto band_of = [&](std::int64_t row) {  // the band holding row, first_row ≤ row < end_row
    return static_cast<std::int64_t>(std::upper_bound(band_starts.begin(), band_starts.end(), row) -
                                     band_starts.begin()) - 1;
  };
  parallel_for(width, 16, [&](std::int64_t x_begin, std::int64_t x_end) {
    std::vector<std::int64_t> kept(static_cast<std::size_t>(height)), allowed(kept.size());
    std::vector<std::int64_t> kept_inner(kept.size() + 1), allowed_inner(kept.size() + 1);
    // Adds |[a, b) ∩ band| to counts for every band, the inner bands through the difference array.
    auto add_interval = [&](std::int64_t a, std::int64_t b, std::vector<std::int64_t>& counts,
                            std::vector<std::int64_t>& inner) {
      a = std::max(a, first_row);
      b = std::min(b, end_row);
      if (a >= b) return;
      const std::int64_t ya = band_of(a), yb = band_of(b - 1);
      if (ya == yb) {
        counts[ya] += b - a;
        return;
      }
      counts[ya] += band_starts[ya + 1] - a;
      counts[yb] += b - band_starts[yb];
      ++inner[ya + 1];
      --inner[yb];
    };
    for (std::int64_t x = x_begin; x < x_end; ++x) {
      std::fill(kept.begin(), kept.end(), 0);
      std::fill(allowed.begin(), allowed.end(), 0);
      std::fill(kept_inner.begin(), kept_inner.end(), 0);
      std::fill(allowed_inner.begin(), allowed_inner.end(), 0);
      const std::int64_t key_end = std::min(columns[x].end, end_row);  // keys past the last row: no cell
      for (std::int64_t j = columns[x].begin; j < key_end; ++j) {
        add_interval(j, death[j], kept, kept_inner);
        add_interval(j, end_row, allowed, allowed_inner);
      }
      std::int64_t kept_run = 0, allowed_run = 0;
      for (std::int64_t y = 0; y < height; ++y) {
        const std::int64_t rows = band_starts[y + 1] - band_starts[y];
        kept_run += kept_inner[y];
        allowed_run += allowed_inner[y];
        const std::int64_t k = kept[y] + kept_run * rows, a = allowed[y] + allowed_run * rows;
        if (a > 0) grid[static_cast<std::size_t>(y * width + x)] = mask_pixel(k, a, mode);
      }
    }
  });
}

}  // namespace

std::vector<std::int64_t> tiling_row_bands(const MatrixWindow& window, std::int64_t height, std::int64_t L) {
  std::vector<std::int64_t> starts;
  starts.reserve(static_cast<std::size_t>(height + 1));
  for (std::int64_t y = 0; y < height; ++y) {
    const CellRange rows = cells_of_pixel(window.row_begin, window.row_end, height, y, L);
    if (y > 0 && rows.begin != starts.back()) return {};  // overlapping or gapped bands
    if (y == 0) starts.push_back(rows.begin);
    starts.push_back(rows.end);
  }
  return starts;
}

std::vector<float> reduce_mask_to_grid(std::span<const std::int32_t> death, const MatrixWindow& window,
                                       std::int64_t width, std::int64_t height, ReduceMode mode) {
  check_grid(width, height);
  const auto L = static_cast<std::int64_t>(death.size());
  std::vector<float> grid(static_cast<std::size_t>(width * height), kNoCausalCell);
  if (L == 0) return grid;
  const auto columns = column_ranges(window.col_begin, window.col_end, width, L);
  if (const auto bands = tiling_row_bands(window, height, L); !bands.empty()) {
    reduce_mask_by_intervals(death, columns, bands, width, mode, grid);
    return grid;
  }
  // Zoomed in (a cell spans several pixel rows): per row band [r0, r1) and key j, kept rows =
  // |[max(j, r0), min(death_j, r1))|, allowed = |[max(j, r0), r1)|; few keys are visible, so this is cheap.
  parallel_for(height, 8, [&](std::int64_t row_begin, std::int64_t row_end) {
    for (std::int64_t y = row_begin; y < row_end; ++y) {
      const CellRange rows = cells_of_pixel(window.row_begin, window.row_end, height, y, L);
      float* out = grid.data() + y * width;
      for (std::int64_t x = 0; x < width; ++x) {
        std::int64_t kept = 0, allowed = 0;
        const std::int64_t key_end = std::min(columns[x].end, rows.end);  // keys past the band's last row: none
        for (std::int64_t j = columns[x].begin; j < key_end; ++j) {
          const std::int64_t first = std::max(j, rows.begin);
          allowed += rows.end - first;
          kept += std::max<std::int64_t>(0, std::min<std::int64_t>(death[j], rows.end) - first);
        }
        if (allowed > 0) out[x] = mask_pixel(kept, allowed, mode);
      }
    }
  });
  return grid;
}

std::vector<float> reduce_matrix_to_grid(std::span<const float> values, std::int64_t length, const MatrixWindow& window,
                                         std::int64_t width, std::int64_t height, ReduceMode mode) {
  check_grid(width, height);
  if (static_cast<std::int64_t>(values.size()) != length * length)
    fail("view reduction: {} values are not a {}x{} matrix", values.size(), length, length);
  std::vector<float> grid(static_cast<std::size_t>(width * height), kNoCausalCell);
  if (length == 0) return grid;
  const auto columns = column_ranges(window.col_begin, window.col_end, width, length);
  parallel_for(height, 8, [&](std::int64_t row_begin, std::int64_t row_end) {
    for (std::int64_t y = row_begin; y < row_end; ++y) {
      const CellRange rows = cells_of_pixel(window.row_begin, window.row_end, height, y, length);
      for (std::int64_t x = 0; x < width; ++x) {
        double sum = 0.0, largest = 0.0;
        std::int64_t allowed = 0;
        for (std::int64_t i = rows.begin; i < rows.end; ++i) {
          const std::int64_t key_end = std::min(columns[x].end, i + 1);
          for (std::int64_t j = columns[x].begin; j < key_end; ++j) {
            const double value = values[static_cast<std::size_t>(i * length + j)];
            largest = allowed == 0 ? value : std::max(largest, value);
            sum += value;
            ++allowed;
          }
        }
        if (allowed == 0) continue;
        grid[y * width + x] = static_cast<float>(mode == ReduceMode::Max ? largest : sum / static_cast<double>(allowed));
      }
    }
  });
  return grid;
}

std::vector<float> reduce_keys_to_strip(std::span<const float> per_key, double col_begin, double col_end,
                                        std::int64_t width, ReduceMode mode) {
  check_grid(width, 1);
  const auto L = static_cast<std::int64_t>(per_key.size());
  std::vector<float> strip(static_cast<std::size_t>(width), kNoCausalCell);
  if (L == 0) return strip;
  for (std::int64_t x = 0; x < width; ++x) {
    const CellRange keys = cells_of_pixel(col_begin, col_end, width, x, L);
    double sum = 0.0, largest = per_key[keys.begin];
    for (std::int64_t j = keys.begin; j < keys.end; ++j) {
      sum += per_key[j];
      largest = std::max<double>(largest, per_key[j]);
    }
    strip[x] = static_cast<float>(mode == ReduceMode::Max ? largest : sum / static_cast<double>(keys.end - keys.begin));
  }
  return strip;
}

// Zoomed out, a pixel covers many tiles and shows the largest status among them: with skipped < partial < full, a
// pixel with any kept key in it is never drawn as skipped (tests/view_reduce_test.cpp checks this at 32K).
static_assert(TileStatus::Skipped < TileStatus::Partial && TileStatus::Partial < TileStatus::Full,
              "the tile map's level of detail takes the max status: any kept key must win");

std::vector<float> reduce_tile_map_to_grid(const TileMap& map, std::int64_t length, const MatrixWindow& window,
                                           std::int64_t width, std::int64_t height) {
  check_grid(width, height);
  std::vector<float> grid(static_cast<std::size_t>(width * height), kNoCausalCell);
  if (length == 0 || map.q_tiles == 0 || map.k_tiles == 0) return grid;
  const auto columns = column_ranges(window.col_begin, window.col_end, width, length);
  // A tile is causal when its first key is at or before its last query row; the picture follows tiles, not cells, so
  // a diagonal tile is drawn whole (its status covers its causal part).
  auto tile_is_causal = [&](std::int64_t qt, std::int64_t kt) {
    return kt * map.shape.cols <= std::min((qt + 1) * map.shape.rows, length) - 1;
  };
  for (std::int64_t y = 0; y < height; ++y) {
    const CellRange rows = cells_of_pixel(window.row_begin, window.row_end, height, y, length);
    const std::int64_t tile_row_begin = rows.begin / map.shape.rows;
    const std::int64_t tile_row_end = std::min((rows.end - 1) / map.shape.rows + 1, map.q_tiles);
    for (std::int64_t x = 0; x < width; ++x) {
      const std::int64_t tile_col_begin = columns[x].begin / map.shape.cols;
      const std::int64_t tile_col_end = std::min((columns[x].end - 1) / map.shape.cols + 1, map.k_tiles);
      int status = -1;
      for (std::int64_t qt = tile_row_begin; qt < tile_row_end; ++qt)
        for (std::int64_t kt = tile_col_begin; kt < tile_col_end && tile_is_causal(qt, kt); ++kt)
          status = std::max<int>(status, map.status[static_cast<std::size_t>(qt * map.k_tiles + kt)]);
      if (status >= 0) grid[y * width + x] = static_cast<float>(status);
    }
  }
  return grid;
}

}  // namespace dmascope
