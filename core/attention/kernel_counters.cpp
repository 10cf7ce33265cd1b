#include "core/attention/kernel_counters.h"

#include <algorithm>

#include "core/attention/tile_sizes.h"
#include "core/base/error.h"

namespace dmascope {

namespace {

// Causally allowed (row, key) pairs of the tile of query positions [p0, p1) × keys [k0, k1).
std::int64_t causal_pairs_in_tile(std::int64_t p0, std::int64_t p1, std::int64_t k0, std::int64_t k1) {
  if (k0 > p1 - 1) return 0;
  if (k1 - 1 <= p0) return (p1 - p0) * (k1 - k0);
  std::int64_t pairs = 0;
  for (std::int64_t p = p0; p < p1; ++p) pairs += std::clamp<std::int64_t>(p + 1 - k0, 0, k1 - k0);
  return pairs;
}

}  // namespace

KernelCounters count_kernel_work(const std::int32_t* death, std::int64_t batch, std::int64_t q_heads,
                                 std::int64_t bias_heads, std::int64_t q_len, std::int64_t key_len) {
  if (batch < 1 || q_heads < 1 || bias_heads < 1 || q_heads % bias_heads != 0)
    fail("count_kernel_work: batch {} with {} query heads and {} bias heads (query heads must be a multiple of bias "
         "heads)", batch, q_heads, bias_heads);
  if (q_len < 1 || key_len < q_len) fail("count_kernel_work: q_len {} with key_len {}", q_len, key_len);
  KernelCounters c;
  c.batch = batch;
  c.q_heads = q_heads;
  c.bias_heads = bias_heads;
  c.q_len = q_len;
  c.key_len = key_len;
  c.q_tiles = (q_len + kTileRows - 1) / kTileRows;
  c.k_tiles = (key_len + kTileKeys - 1) / kTileKeys;
  const std::int64_t offset = key_len - q_len, segments = batch * bias_heads;
  c.kept_entries.assign(static_cast<std::size_t>(segments * c.q_tiles * c.k_tiles), 0);
  std::vector<std::int32_t> keys(static_cast<std::size_t>(segments * c.q_tiles), 0);
  for (std::int64_t s = 0; s < segments; ++s) {
    std::int32_t* kept = c.kept_entries.data() + s * c.q_tiles * c.k_tiles;
    for (std::int64_t j = 0; j < key_len; ++j) {
      // Key j is kept on the query rows [from, to): positions max(j, offset) .. min(death, key_len).
      const std::int64_t end = death ? std::min<std::int64_t>(death[s * key_len + j], key_len) : key_len;
      const std::int64_t from = std::max(j, offset) - offset, to = end - offset;
      if (to <= from) continue;
      for (std::int64_t qt = from / kTileRows; qt * kTileRows < to; ++qt) {
        const std::int64_t rows = std::min(to, (qt + 1) * kTileRows) - std::max(from, qt * kTileRows);
        ++keys[static_cast<std::size_t>(s * c.q_tiles + qt)];
        kept[qt * c.k_tiles + j / kTileKeys] += static_cast<std::int32_t>(rows);
      }
    }
  }
  c.keys_gathered.resize(static_cast<std::size_t>(batch * q_heads * c.q_tiles));
  c.executed_pairs.resize(c.keys_gathered.size());
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < q_heads; ++h)
      for (std::int64_t qt = 0; qt < c.q_tiles; ++qt) {
        const std::size_t slot = static_cast<std::size_t>((b * q_heads + h) * c.q_tiles + qt);
        const std::int32_t gathered = keys[static_cast<std::size_t>((b * bias_heads + c.bias_head_of(h)) * c.q_tiles + qt)];
        const std::int64_t rows = std::min(q_len, (qt + 1) * kTileRows) - qt * kTileRows;
        c.keys_gathered[slot] = gathered;
        c.executed_pairs[slot] = rows * gathered;
      }
  return c;
}

TileMap tile_map_from_counters(const KernelCounters& c, std::int64_t segment) {
  if (segment < 0 || segment >= c.batch * c.bias_heads)
    fail("kernel counters: segment {} out of range ({} batches × {} bias heads)", segment, c.batch, c.bias_heads);
  if (c.kept_entries.size() != static_cast<std::size_t>(c.batch * c.bias_heads * c.q_tiles * c.k_tiles))
    fail("kernel counters: {} kept-entry counters for {}×{}×{} tiles", c.kept_entries.size(), c.batch * c.bias_heads,
         c.q_tiles, c.k_tiles);
  TileMap map;
  map.shape = TileShape{kTileRows, kTileKeys};
  map.q_tiles = c.q_tiles;
  map.k_tiles = c.k_tiles;
  map.status.assign(static_cast<std::size_t>(c.q_tiles * c.k_tiles), 0);
  const std::int32_t* kept = c.kept_entries.data() + segment * c.q_tiles * c.k_tiles;
  const std::int64_t offset = c.key_len - c.q_len;
  for (std::int64_t qt = 0; qt < c.q_tiles; ++qt) {
    const std::int64_t p0 = offset + qt * kTileRows, p1 = offset + std::min(c.q_len, (qt + 1) * kTileRows);
    for (std::int64_t kt = 0; kt < c.k_tiles; ++kt) {
      const std::int64_t k0 = kt * kTileKeys, k1 = std::min(c.key_len, k0 + kTileKeys);
      const std::int64_t causal = causal_pairs_in_tile(p0, p1, k0, k1), kept_here = kept[qt * c.k_tiles + kt];
      TileStatus status = TileStatus::Skipped;
      if (kept_here > 0) status = kept_here == causal && causal == (p1 - p0) * (k1 - k0) ? TileStatus::Full : TileStatus::Partial;
      map.status[static_cast<std::size_t>(qt * c.k_tiles + kt)] = static_cast<std::uint8_t>(status);
      map.causal_tiles += causal > 0;
      map.kept_entries += kept_here;
      map.causal_entries += causal;
      (status == TileStatus::Skipped ? map.skipped : status == TileStatus::Partial ? map.partial : map.full) += 1;
    }
  }
  return map;
}

GatheredWork gathered_work_from_counters(const KernelCounters& c, std::int64_t head_slot) {
  if (head_slot < 0 || head_slot >= c.batch * c.q_heads)
    fail("kernel counters: query head slot {} out of range ({} batches × {} query heads)", head_slot, c.batch,
         c.q_heads);
  GatheredWork work;
  work.tile_rows = kTileRows;
  const std::int64_t offset = c.key_len - c.q_len;
  const std::int64_t segment = (head_slot / c.q_heads) * c.bias_heads + c.bias_head_of(head_slot % c.q_heads);
  const auto first = c.keys_gathered.begin() + head_slot * c.q_tiles;
  work.keys_per_tile.assign(first, first + c.q_tiles);
  for (std::int64_t qt = 0; qt < c.q_tiles; ++qt) {
    const std::int64_t r0 = qt * kTileRows, r1 = std::min(c.q_len, r0 + kTileRows);
    work.executed_pairs += static_cast<double>(c.executed_pairs[static_cast<std::size_t>(head_slot * c.q_tiles + qt)]);
    work.dense_pairs += static_cast<double>((r1 - r0) * (offset + r1));
  }
  const std::int32_t* kept = c.kept_entries.data() + segment * c.q_tiles * c.k_tiles;
  for (std::int64_t n = 0; n < c.q_tiles * c.k_tiles; ++n) work.kept_pairs += kept[n];
  return work;
}

}  // namespace dmascope
