// The kernel tile map's view grids (engine/timing/kernel_tile_grid.h): statuses reduce like the CPU map, and the CTA-time
// layer paints each query tile's row band with that CTA's µs, leaving pixels above the diagonal apart.
#include <gtest/gtest.h>

#include "engine/timing/kernel_tile_grid.h"
#include "core/mask/dma_mask.h"
#include "core/view/view_reduce.h"

namespace dmascope::engine {
namespace {

// L = 128: 2×2 kernel tiles of 64×64 for one bias head shared by two query heads.
KernelTileMap two_by_two() {
  KernelTileMap map;
  map.q_heads = 2;
  map.bias_heads = 1;
  map.q_tiles = map.k_tiles = 2;
  map.status = {1, 0, 2, 1};
  map.cta_microseconds = {5.0, 9.0, /* head 1 */ 7.0, 3.0};
  map.keys_gathered = {64, 128};
  return map;
}

TEST(AppKernelTileGrid, StatusGridMatchesTheCoreReductionOfTheSameStatuses) {
  const KernelTileMap map = two_by_two();
  const MatrixWindow window{0, 128, 0, 128};
  const TileMap tiles = kernel_status_map(map, 0, 128);
  EXPECT_EQ(tiles.causal_tiles, 3);
  EXPECT_EQ(tiles.full, 1);
  EXPECT_EQ(tiles.partial, 2);
  EXPECT_EQ(kernel_status_grid(map, 0, 128, window, 4, 4), reduce_tile_map_to_grid(tiles, 128, window, 4, 4));
}

TEST(AppKernelTileGrid, CtaGridPaintsEachQueryTilesRowBandWithItsMicroseconds) {
  const KernelTileMap map = two_by_two();
  const MatrixWindow window{0, 128, 0, 128};
  const auto grid = kernel_cta_grid(map, 1, 128, window, 2, 2);  // one pixel per tile
  ASSERT_EQ(grid.size(), 4u);
  EXPECT_EQ(grid[0], 7.0f);            // head 1, query tile 0, key tile 0
  EXPECT_EQ(grid[1], kNoCausalCell);   // above the diagonal
  EXPECT_EQ(grid[2], 3.0f);
  EXPECT_EQ(grid[3], 3.0f);
  const CtaTimeRange range = cta_time_range(map, 0);
  EXPECT_EQ(range.low_us, 5.0);
  EXPECT_EQ(range.high_us, 9.0);
  EXPECT_THROW(kernel_cta_grid(map, 2, 128, window, 2, 2), std::exception);  // no head 2
}

}  // namespace
}  // namespace dmascope::engine
