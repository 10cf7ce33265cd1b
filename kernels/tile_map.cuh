// Device entry point of the tile maps of any tile shape (kernels/tile_map.cu). Twin: build_tile_map
// (core/attention/attention_cpu.h) with q_len == key_len. Host-side use: DogeForwardCuda.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dmascope::cuda::detail {

// Per segment, in this order: skipped, partial, full, causal_tiles, kept_entries, causal_entries (TileMap's fields).
inline constexpr int kTileMapCounters = 6;

// status [segments, q_tiles, k_tiles] (TileStatus values) and counters [segments, kTileMapCounters] (accumulated:
// zero them first) from death [segments, length], for tiles of `rows` queries × `cols` keys.
void launch_tile_map(const std::int32_t* death, int segments, int length, int rows, int cols, std::uint8_t* status,
                     unsigned long long* counters, cudaStream_t stream);

}  // namespace dmascope::cuda::detail
