// What the CUDA forward kernels count about their own work when a run is instrumented (ForwardParams::counters in
// kernels/attention_fwd.cuh), and the CPU twin of those counts. The kernels add to these counters while they run the
// attention, so the tile map and the gathered-work numbers the CUDA backend shows are the kernel's own account, not a
// recomputation; count_kernel_work gives the same numbers from the death indices alone (a GPU test compares them
// exactly).
#pragma once

#include <cstdint>
#include <vector>

#include "core/attention/attention_cpu.h"     // TileMap
#include "core/attention/gathered_work.h"

namespace dmascope {

// Tiles are the kernels' own: kTileRows query rows × kTileKeys keys (tile_sizes.h). Causal attention is bottom-right
// aligned when q_len < key_len (query row r sits at key position key_len − q_len + r).
struct KernelCounters {
  std::int64_t batch = 0, q_heads = 0, bias_heads = 0, q_len = 0, key_len = 0, q_tiles = 0, k_tiles = 0;
  std::vector<std::int32_t> keys_gathered;   // [batch · q_heads, q_tiles]: keys the query tile's CTA gathered
  std::vector<std::int64_t> executed_pairs;  // [batch · q_heads, q_tiles]: (query row, gathered key) pairs computed
  std::vector<std::int32_t> kept_entries;    // [batch · bias_heads, q_tiles, k_tiles]: kept (row, key) pairs

  bool empty() const { return keys_gathered.empty(); }
  std::int64_t bias_head_of(std::int64_t q_head) const { return q_head / (q_heads / bias_heads); }
};

// The CPU twin: the counts the kernels write, from death [batch · bias_heads, key_len] (key j kept on positions
// j ≤ p < death[j]; null: dense causal attention, every key kept). O(L + Σ tiles each key's kept run spans).
KernelCounters count_kernel_work(const std::int32_t* death, std::int64_t batch, std::int64_t q_heads,
                                 std::int64_t bias_heads, std::int64_t q_len, std::int64_t key_len);

// One segment's (batch · bias_heads + bias head) 64×64 tile map from the kept entries: statuses and counts as
// build_tile_map gives them for the same mask.
TileMap tile_map_from_counters(const KernelCounters& counters, std::int64_t segment);

// The gathered work of one query head (b · q_heads + h) in core's vocabulary (gathered_work.h): keys per query tile and
// executed pairs as the kernel counted them; dense pairs and kept pairs of the same tiles.
GatheredWork gathered_work_from_counters(const KernelCounters& counters, std::int64_t head_slot);

}  // namespace dmascope
