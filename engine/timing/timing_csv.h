// CSV text of the Timing view's tables and sweeps and of the tile maps (RFC 4180: fields with a comma, a quote or a
// line break are quoted). Pure functions, unit-tested; the panels write the text with write_file_atomically.
// Every timing row names its device and dtype, so that a CPU row is never mistaken for a GPU row.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/timing/timing_results.h"
#include "core/attention/attention_cpu.h"

namespace dmascope::engine {

std::string csv_field(std::string_view text);  // quoted only when it has to be

// One row per variant: mask_build, dma_kernel, dma_incl_mask, dense, materialized.
std::string layer_timing_csv(const LayerTiming& timing);
// One row per (point, variant), the sweep's variable first; the first line is a comment-free header. A point that
// failed has its rows too, unmeasured, with "failed: <why>" in the note column.
std::string timing_sweep_csv(const TimingSweep& sweep);

// Tile maps, causal tiles only (the ones above the diagonal are never computed by anybody). A map with more rows
// than kMaxTileCsvRows is refused with an error rather than written as a file nobody can open.
inline constexpr std::int64_t kMaxTileCsvRows = 5'000'000;
// The kernel's 64×64 tiles: head,bias_head,q_tile,k_tile,status,cta_us (the CTA of that query head and query tile).
std::string kernel_tile_map_csv(const KernelTileMap& map, std::int64_t length);
// The CPU tile maps (one per bias head, at the chosen tile size): head,bias_head,q_tile,k_tile,status.
std::string cpu_tile_map_csv(std::span<const TileMap> maps_per_bias_head, std::int64_t q_heads, std::int64_t length);

}  // namespace dmascope::engine
