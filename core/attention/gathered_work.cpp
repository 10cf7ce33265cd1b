#include "core/attention/gathered_work.h"

#include "core/attention/tile_sizes.h"

#include <algorithm>
#include <numeric>

#include "core/base/error.h"

namespace dmascope {

GatheredWork gathered_work(const std::int32_t* death, std::int64_t length, std::int64_t tile_rows) {
  if (tile_rows < 1) fail("gathered_work: tile rows must be positive, got {}", tile_rows);
  if (length < 0) fail("gathered_work: negative length {}", length);
  GatheredWork work;
  work.tile_rows = tile_rows;
  const std::int64_t q_tiles = (length + tile_rows - 1) / tile_rows;
  // Key j is gathered by the query tiles that hold a row of its kept run [j, min(death_j, L)): a run of tiles,
  // counted with a difference array so that the whole head costs O(L + tiles).
  std::vector<std::int64_t> starts(static_cast<std::size_t>(q_tiles) + 1, 0);
  for (std::int64_t j = 0; j < length; ++j) {
    const std::int64_t end = std::min<std::int64_t>(death[j], length);
    if (end <= j) continue;
    work.kept_pairs += static_cast<double>(end - j);
    ++starts[static_cast<std::size_t>(j / tile_rows)];
    --starts[static_cast<std::size_t>((end - 1) / tile_rows + 1)];
  }
  work.keys_per_tile.resize(static_cast<std::size_t>(q_tiles));
  std::int64_t running = 0;
  for (std::int64_t qt = 0; qt < q_tiles; ++qt) {
    running += starts[static_cast<std::size_t>(qt)];
    work.keys_per_tile[static_cast<std::size_t>(qt)] = static_cast<std::int32_t>(running);
    const std::int64_t r0 = qt * tile_rows, r1 = std::min(length, r0 + tile_rows);
    work.executed_pairs += static_cast<double>((r1 - r0) * running);
    work.dense_pairs += static_cast<double>((r1 - r0) * r1);
  }
  return work;
}

std::int32_t GatheredWork::max_keys_per_tile() const {
  return keys_per_tile.empty() ? 0 : *std::max_element(keys_per_tile.begin(), keys_per_tile.end());
}

double GatheredWork::mean_keys_per_tile() const {
  if (keys_per_tile.empty()) return 0;
  return std::accumulate(keys_per_tile.begin(), keys_per_tile.end(), 0.0) / static_cast<double>(keys_per_tile.size());
}

GatheredWork kernel_gathered_work(const std::int32_t* death, std::int64_t length) {
  return gathered_work(death, length, kTileRows);
}

}  // namespace dmascope
