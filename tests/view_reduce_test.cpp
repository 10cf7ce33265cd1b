// The level-of-detail reduction against a brute-force expansion of the mask (dma_expand_keep) at small L, and its
// behaviour at 32K tokens, where no L×L buffer may exist.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "core/attention/attention_cpu.h"
#include "core/mask/dma_mask.h"
#include "core/view/view_reduce.h"

namespace dmascope {
namespace {

std::vector<float> random_beta(std::int64_t length, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::lognormal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> beta(static_cast<std::size_t>(length));
  for (auto& value : beta) value = dist(rng);
  return beta;
}

// The brute force: expand to L×L bytes, then per pixel visit every covered cell.
std::vector<float> brute_force_mask_grid(const std::vector<std::uint8_t>& keep, std::int64_t L, const MatrixWindow& w,
                                         std::int64_t width, std::int64_t height, ReduceMode mode) {
  std::vector<float> grid(static_cast<std::size_t>(width * height));
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      const CellRange rows = cells_of_pixel(w.row_begin, w.row_end, height, y, L);
      const CellRange cols = cells_of_pixel(w.col_begin, w.col_end, width, x, L);
      std::int64_t kept = 0, allowed = 0;
      for (std::int64_t i = rows.begin; i < rows.end; ++i)
        for (std::int64_t j = cols.begin; j < cols.end; ++j)
          if (j <= i) {
            ++allowed;
            kept += keep[i * L + j];
          }
      grid[y * width + x] = allowed == 0 ? kNoCausalCell
                            : mode == ReduceMode::Max ? (kept ? 1.0f : 0.0f)
                                                      : static_cast<float>(static_cast<double>(kept) / allowed);
    }
  return grid;
}

struct GridCase {
  std::int64_t length, window, width, height;
  double zoom, center_row, center_col;
};

void PrintTo(const GridCase& c, std::ostream* os) {
  *os << "L" << c.length << " w" << c.window << " grid" << c.width << "x" << c.height << " zoom" << c.zoom;
}

// The case's zoom and centre on a view of `width` pixels (the zoom limit depends on it), checked to have applied.
MatrixWindow view_of(const GridCase& c) {
  const MatrixWindow window =
      visible_window(clamp_zoom_pan({c.zoom, c.center_row, c.center_col}, c.length, static_cast<double>(c.width)),
                     c.length);
  EXPECT_NEAR(window.cols(), static_cast<double>(c.length) / c.zoom, 1e-9) << "the case's zoom was clamped";
  return window;
}

class MaskReductionMatchesBruteForce : public ::testing::TestWithParam<GridCase> {};

TEST_P(MaskReductionMatchesBruteForce, OnEveryPixelInBothModes) {
  const GridCase c = GetParam();
  for (std::uint32_t seed = 0; seed < 3; ++seed) {
    const auto death = dma_death_indices(random_beta(c.length, seed), c.window);
    const auto keep = dma_expand_keep(death, c.length);
    const MatrixWindow window = view_of(c);
    for (ReduceMode mode : {ReduceMode::Mean, ReduceMode::Max}) {
      const auto grid = reduce_mask_to_grid(death, window, c.width, c.height, mode);
      const auto expected = brute_force_mask_grid(keep, c.length, window, c.width, c.height, mode);
      ASSERT_EQ(grid.size(), expected.size());
      for (std::size_t p = 0; p < grid.size(); ++p)
        ASSERT_FLOAT_EQ(grid[p], expected[p]) << "pixel " << p % c.width << "," << p / c.width << " seed " << seed
                                              << " mode " << reduce_mode_name(mode);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Views, MaskReductionMatchesBruteForce,
                         ::testing::Values(GridCase{1, 1, 1, 1, 1, 0.5, 0.5}, GridCase{33, 8, 33, 33, 1, 0, 0},
                                           GridCase{33, 8, 7, 5, 1, 0, 0}, GridCase{100, 17, 64, 48, 1, 0, 0},
                                           GridCase{100, 17, 300, 300, 1, 0, 0},  // zoomed in: 3 px per cell
                                           GridCase{100, 17, 40, 40, 3.7, 61.3, 20.9},
                                           GridCase{257, 64, 90, 70, 2.0, 200, 100},
                                           GridCase{257, 300, 50, 50, 1, 0, 0},  // w ≥ L: everything kept
                                           // Zoomed out over many keys per pixel, rows and columns not a whole
                                           // number per pixel, the window off the diagonal's centre.
                                           GridCase{4096, 100, 97, 61, 1.7, 3000, 1500},
                                           GridCase{3000, 7, 554, 554, 2.5, 1700, 900}));

TEST(ViewReduce, OnePixelPerCellGridIsTheExpandedMaskWithTheUpperTriangleMarked) {
  const std::int64_t L = 40;
  const auto death = dma_death_indices(random_beta(L, 9), 6);
  const auto keep = dma_expand_keep(death, L);
  const auto grid = reduce_mask_to_grid(death, visible_window(whole_matrix(L), L), L, L, ReduceMode::Mean);
  for (std::int64_t i = 0; i < L; ++i)
    for (std::int64_t j = 0; j < L; ++j)
      EXPECT_EQ(grid[i * L + j], j > i ? kNoCausalCell : static_cast<float>(keep[i * L + j])) << i << "," << j;
}

TEST(ViewReduce, MatrixReductionAveragesAndMaximisesAllowedCellsOnly) {
  const std::int64_t L = 6;
  std::vector<float> values(L * L);
  for (std::int64_t i = 0; i < L; ++i)
    for (std::int64_t j = 0; j < L; ++j) values[i * L + j] = j <= i ? static_cast<float>(i * 10 + j) : 1000.0f;
  const MatrixWindow window = visible_window(whole_matrix(L), L);
  // 3×3 pixels of 2×2 cells. Pixel (0,0) covers (0,0),(1,0),(1,1) allowed: values 0, 10, 11.
  const auto mean = reduce_matrix_to_grid(values, L, window, 3, 3, ReduceMode::Mean);
  const auto max = reduce_matrix_to_grid(values, L, window, 3, 3, ReduceMode::Max);
  EXPECT_FLOAT_EQ(mean[0], 7.0f);
  EXPECT_FLOAT_EQ(max[0], 11.0f);
  EXPECT_EQ(mean[1], kNoCausalCell);  // cells (0..1, 2..3): all above the diagonal
  EXPECT_FLOAT_EQ(mean[3 * 2 + 0], (40 + 41 + 50 + 51) / 4.0f);
}

TEST(ViewReduce, KeyStripAveragesOrMaximisesTheKeysOfEachPixel) {
  const std::vector<float> beta = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto mean = reduce_keys_to_strip(beta, 0, 8, 4, ReduceMode::Mean);
  const auto max = reduce_keys_to_strip(beta, 0, 8, 4, ReduceMode::Max);
  EXPECT_EQ(mean, (std::vector<float>{1.5f, 3.5f, 5.5f, 7.5f}));
  EXPECT_EQ(max, (std::vector<float>{2, 4, 6, 8}));
  const auto zoomed = reduce_keys_to_strip(beta, 2, 4, 4, ReduceMode::Mean);  // 2 px per key
  EXPECT_EQ(zoomed, (std::vector<float>{3, 3, 4, 4}));
}

TEST(ViewReduce, TileGridShowsEachTilesStatusAtOnePixelPerTileAndMarksTheUpperTriangle) {
  const std::int64_t L = 64;
  const auto death = dma_death_indices(random_beta(L, 3), 5);
  const TileMap map = build_tile_map(death.data(), L, L, TileShape{8, 8});
  const auto grid = reduce_tile_map_to_grid(map, L, visible_window(whole_matrix(L), L), 8, 8);
  for (std::int64_t qt = 0; qt < 8; ++qt)
    for (std::int64_t kt = 0; kt < 8; ++kt)
      EXPECT_EQ(grid[qt * 8 + kt], kt > qt ? kNoCausalCell : static_cast<float>(map.status[qt * 8 + kt]))
          << qt << "," << kt;
  // Zoomed in (4 px per token), each pixel shows the status of the tile of the cell under it.
  const auto fine = reduce_tile_map_to_grid(map, L, visible_window(whole_matrix(L), L), 256, 256);
  EXPECT_EQ(fine[(4 * 20 + 1) * 256 + 4 * 10 + 1], static_cast<float>(map.status[(20 / 8) * 8 + 10 / 8]));
  // A diagonal tile is drawn whole: cell (0, 5) is above the diagonal, but its tile (0, 0) is causal.
  EXPECT_EQ(fine[(4 * 0 + 1) * 256 + 4 * 5 + 1], static_cast<float>(map.status[0]));
  EXPECT_EQ(fine[(4 * 0 + 1) * 256 + 4 * 8 + 1], kNoCausalCell);  // tile (0, 1): wholly above
}

// Zoomed out, a pixel covers several tiles: any tile with a kept key wins (partial over skipped, full over both), so a
// sparse head never looks emptier than it is.
TEST(ViewReduce, ZoomedOutAPixelOverSkippedAndPartialTilesShowsPartialAndOneWithAFullTileShowsFull) {
  const std::int64_t L = 16;
  TileMap map;
  map.shape = TileShape{4, 4};
  map.q_tiles = map.k_tiles = 4;
  map.status.assign(16, static_cast<std::uint8_t>(TileStatus::Skipped));
  auto set = [&](std::int64_t qt, std::int64_t kt, TileStatus status) {
    map.status[static_cast<std::size_t>(qt * 4 + kt)] = static_cast<std::uint8_t>(status);
  };
  set(3, 1, TileStatus::Partial);  // pixel (row 1, col 0) covers tiles q 2..3 × k 0..1: three skipped, one partial
  set(3, 2, TileStatus::Full);     // pixel (row 1, col 1) covers (2, 2) skipped, (3, 2) full, (3, 3) skipped
  // 2×2 pixels over the whole 16×16 matrix: 8×8 tokens, 2×2 tiles per pixel.
  const auto grid = reduce_tile_map_to_grid(map, L, visible_window(whole_matrix(L), L), 2, 2);
  EXPECT_EQ(grid[0 * 2 + 0], static_cast<float>(TileStatus::Skipped)) << "only skipped tiles";
  EXPECT_EQ(grid[0 * 2 + 1], kNoCausalCell) << "only tiles above the diagonal";
  EXPECT_EQ(grid[1 * 2 + 0], static_cast<float>(TileStatus::Partial)) << "skipped + partial shows partial";
  EXPECT_EQ(grid[1 * 2 + 1], static_cast<float>(TileStatus::Full)) << "skipped + full shows full";
}

// At 32K tokens and 16×16 tiles, 512 px a side (64 tokens, 4×4 tiles per pixel): a pixel is drawn skipped exactly
// when the mask has no kept cell in it (the mask's max reduction), so partial and full tiles survive the zoom-out.
TEST(ViewReduce, ZoomedOutOnA32KTokenHeadEveryPixelWithAKeptKeyShowsAnActiveTile) {
  const std::int64_t L = 32768, pixels = 512;
  const auto death = dma_death_indices(random_beta(L, 5), 256);
  const TileMap map = build_tile_map(death.data(), L, L, TileShape{16, 16});
  const MatrixWindow window = visible_window(whole_matrix(L), L);
  const auto tiles = reduce_tile_map_to_grid(map, L, window, pixels, pixels);
  const auto kept = reduce_mask_to_grid(death, window, pixels, pixels, ReduceMode::Max);
  std::int64_t partial_pixels = 0, mismatches = 0;
  for (std::size_t p = 0; p < tiles.size(); ++p) {
    if (tiles[p] == kNoCausalCell) continue;
    const bool any_kept = kept[p] > 0;
    mismatches += any_kept != (tiles[p] > static_cast<float>(TileStatus::Skipped));
    partial_pixels += tiles[p] == static_cast<float>(TileStatus::Partial);
  }
  EXPECT_EQ(mismatches, 0) << "a pixel with a kept key must show a partial or full tile, and only such a pixel";
  EXPECT_GT(partial_pixels, 0) << "a sparse head at w 256 has partial tiles to show";
}

TEST(ViewReduce, ReducesA32KTokenMaskToAViewGridQuicklyAndAgreesWithDirectCountsOnSampledPixels) {
  const std::int64_t L = 32768, width = 512, height = 512;
  const auto death = dma_death_indices(random_beta(L, 11), 2048);
  const MatrixWindow window = visible_window(whole_matrix(L), L);
  const auto start = std::chrono::steady_clock::now();
  const auto grid = reduce_mask_to_grid(death, window, width, height, ReduceMode::Mean);
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(grid.size(), static_cast<std::size_t>(width * height));
  EXPECT_LT(elapsed_ms, 2000.0) << "a view-sized reduction of 32K tokens should take well under a second";
  for (auto [x, y] : {std::pair{0, 0}, {3, 100}, {255, 256}, {511, 511}, {17, 480}}) {
    const std::int64_t per_pixel = L / width;  // 64 tokens per pixel exactly
    std::int64_t kept = 0, allowed = 0;
    for (std::int64_t i = y * per_pixel; i < (y + 1) * per_pixel; ++i)
      for (std::int64_t j = x * per_pixel; j < (x + 1) * per_pixel; ++j)
        if (j <= i) {
          ++allowed;
          kept += dma_keeps(death, i, j);
        }
    const float expected = allowed ? static_cast<float>(static_cast<double>(kept) / allowed) : kNoCausalCell;
    EXPECT_FLOAT_EQ(grid[y * width + x], expected) << x << "," << y;
  }
}

}  // namespace
}  // namespace dmascope
