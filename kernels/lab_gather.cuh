// The mask lab's generic gather kernel: sparse attention for any kept set, given per query tile of
// kLabGatherTileRows rows a list of keys (the union of the tile's kept keys, ascending) and per row a bitmask over the
// list's slots — the form of core/lab/kept_rows.h's TileGather (32-bit words here). fp32 throughout; the CPU twin is
// core/lab/lab_gather.h's gather_attention.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dmascope::cuda {

inline constexpr int kLabGatherTileRows = 64;   // query rows per CTA (and per key list)
inline constexpr int kLabGatherMaxHeadDim = 128;

struct GatherAttentionParams {
  const float* query = nullptr;  // [L, d] row-major (rows are absolute positions)
  const float* key = nullptr;    // [L, d]
  const float* value = nullptr;  // [L, d]
  const float* beta = nullptr;   // [L]
  float scale = 1.0f;
  int head_dim = 0;              // d ≤ kLabGatherMaxHeadDim, a multiple of 4
  int row_begin = 0, rows = 0;   // the rows computed: [row_begin, row_begin + rows); tile t = rows t·64 …
  const std::int32_t* tile_keys = nullptr;   // tile t's list at tile_keys + t·tile_keys_stride
  std::int64_t tile_keys_stride = 0;
  const std::int32_t* tile_key_count = nullptr;  // [tiles]
  const std::uint32_t* row_bits = nullptr;   // row r (relative to row_begin): words row_bits[r·row_bits_stride …]
  std::int64_t row_bits_stride = 0;          // bit s of word s/32 set ⇔ the row keeps its tile's key s
  float* out = nullptr;                      // [rows, d]; a row keeping nothing gets zeros
};

// Empty when the kernel can run these params, else why not.
const char* gather_attention_unsupported(const GatherAttentionParams& params);
void launch_gather_attention(const GatherAttentionParams& params, cudaStream_t stream);

}  // namespace dmascope::cuda
