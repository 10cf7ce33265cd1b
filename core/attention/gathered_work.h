// The work a gathering DMA kernel really does. The tiled kernels (attention_tiled here, the CUDA forward) do not skip
// empty tiles of the L×L matrix: for each query tile they gather the keys that some row of the tile keeps and compute
// every (row of the tile, gathered key) pair. So their work follows the gathered keys, which can be far fewer than
// the keys of the non-empty tiles: at 2048 tokens with w = 64 a head's tile density can be 38 % (a tile-skipping
// kernel would gain at most 2.6×) while the gathered pairs are about 9 % of the dense kernel's.
#pragma once

#include <cstdint>
#include <vector>

namespace dmascope {

struct GatheredWork {
  std::int64_t tile_rows = 0;
  std::vector<std::int32_t> keys_per_tile;  // [query tile] keys kept by some row of the tile
  double executed_pairs = 0;  // Σ over query tiles of rows × keys gathered: what the DMA kernel computes
  double dense_pairs = 0;     // Σ over query tiles of rows × (last row + 1): the dense causal kernel, same tiles
  double kept_pairs = 0;      // (row, key) pairs the mask keeps

  std::int32_t max_keys_per_tile() const;
  double mean_keys_per_tile() const;
  // Dense work over DMA work: the speedup a kernel that pays per executed pair could reach (0 when nothing ran).
  double ideal_speedup() const { return executed_pairs > 0 ? dense_pairs / executed_pairs : 0; }
  double executed_fraction() const { return dense_pairs > 0 ? executed_pairs / dense_pairs : 0; }
};

// One bias head's mask, as death indices (key j is kept on rows j ≤ p < death[j]), over a length × length causal
// matrix cut into query tiles of tile_rows rows. Gathers exactly the keys attention_tiled gathers; O(L).
GatheredWork gathered_work(const std::int32_t* death, std::int64_t length, std::int64_t tile_rows);

// The work of the kernels the Timing panel times (the CUDA forward, and its CPU twin in the timing runs): query tiles
// of kTileRows rows (tile_sizes.h), whatever tile size the view draws its tile map with.
GatheredWork kernel_gathered_work(const std::int32_t* death, std::int64_t length);

}  // namespace dmascope
