#include "core/compute/timing_math.h"

#include <algorithm>

namespace dmascope {

double attention_tflops_per_second(double pairs, std::int64_t head_dim, double milliseconds) {
  if (!(milliseconds > 0) || pairs <= 0) return 0;
  return 4.0 * pairs * static_cast<double>(head_dim) / (milliseconds * 1e-3) / 1e12;
}

double tiled_causal_pairs(std::int64_t q_len, std::int64_t key_len, std::int64_t tile_rows, std::int64_t tile_keys) {
  if (q_len <= 0 || key_len <= 0 || tile_rows <= 0 || tile_keys <= 0) return 0;
  const std::int64_t q_tiles = (q_len + tile_rows - 1) / tile_rows;
  double pairs = 0;
  for (std::int64_t t = 0; t < q_tiles; ++t) {
    const std::int64_t keys = key_len - q_len + std::min(q_len, (t + 1) * tile_rows);  // the last row's prefix
    const std::int64_t rounded = std::min(key_len, (keys + tile_keys - 1) / tile_keys * tile_keys);
    pairs += static_cast<double>(tile_rows) * static_cast<double>(std::max<std::int64_t>(rounded, 0));
  }
  return pairs;
}

double full_pairs(std::int64_t q_len, std::int64_t key_len) {
  return static_cast<double>(std::max<std::int64_t>(q_len, 0)) * static_cast<double>(std::max<std::int64_t>(key_len, 0));
}

double kept_pairs(std::span<const std::int32_t> death, std::int64_t q_len) {
  const auto key_len = static_cast<std::int64_t>(death.size());
  const std::int64_t first_row = key_len - q_len;
  double kept = 0;
  for (std::int64_t j = 0; j < key_len; ++j) {
    const std::int64_t from = std::max(j, first_row), to = std::min<std::int64_t>(death[static_cast<std::size_t>(j)], key_len);
    if (to > from) kept += static_cast<double>(to - from);
  }
  return kept;
}

std::size_t cpu_materialized_bytes(std::int64_t q_heads, std::int64_t length) {
  return static_cast<std::size_t>(q_heads) * static_cast<std::size_t>(length) * static_cast<std::size_t>(length) * 4;
}

double mask_tile_density(std::span<const std::int32_t> death, std::int64_t segments, std::int64_t length,
                         TileShape tiles) {
  double active = 0, causal = 0;
  for (std::int64_t seg = 0; seg < segments; ++seg) {
    const TileMap map = build_tile_map(death.data() + seg * length, length, length, tiles);
    active += static_cast<double>(map.partial + map.full);
    causal += static_cast<double>(map.causal_tiles);
  }
  return causal > 0 ? active / causal : 0;
}

}  // namespace dmascope
