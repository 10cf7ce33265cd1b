// The tile and chunk sizes the CPU tiled kernels, the CUDA kernels, the timing and the views share. Plain constexpr
// (no includes), usable from .cu and .cpp files alike. Changing one changes the kernels' layouts: the CUDA kernels
// static_assert what they assume of these values.
#pragma once

namespace dmascope {

// Query rows per tile: one forward CTA's rows (per head), one gather list, one row of the tile map.
inline constexpr int kTileRows = 64;
// Keys per tile: one block of keys the forward loads and multiplies at a time, one column of the tile map.
inline constexpr int kTileKeys = 64;
// Rows (and keys) per chunk of the chunked mask build: one CTA's rows, and the granularity of its chunk keys.
inline constexpr int kChunkRows = 1024;

}  // namespace dmascope
