// The arithmetic of the Timing view, kept apart from the panels so that it is unit-tested: FLOP rates counted as in
// the FlashAttention benchmarks (4·d FLOPs per (query, key) pair: 2·d for QKᵀ, 2·d for PV; softmax not counted),
// the pairs each variant executes, and how many bytes the materialized baseline needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/attention/attention_cpu.h"

namespace dmascope {

// TFLOP/s of `pairs` (query, key) pairs at head dim d done in `milliseconds`; 0 when nothing was timed.
double attention_tflops_per_second(double pairs, std::int64_t head_dim, double milliseconds);

// Pairs a tiled dense causal kernel executes for one head: each query tile of `tile_rows` rows computes its whole
// causal key prefix rounded up to whole `tile_keys` blocks (the CUDA kernel's 64×64 geometry; bottom-right aligned).
double tiled_causal_pairs(std::int64_t q_len, std::int64_t key_len, std::int64_t tile_rows, std::int64_t tile_keys);

// Pairs the materialized baseline executes for one head: QKᵀ and PV are full GEMMs over all q_len × key_len pairs
// (the causal mask is applied in the softmax, after the work is done).
double full_pairs(std::int64_t q_len, std::int64_t key_len);

// Kept (query, key) pairs of one death array over its last q_len rows, in double (no overflow at 128K).
double kept_pairs(std::span<const std::int32_t> death, std::int64_t q_len);

// Bytes the materialized CPU reference needs for its [Hq, L, L] fp32 probabilities.
std::size_t cpu_materialized_bytes(std::int64_t q_heads, std::int64_t length);

// Active (partial + full) over causal tiles of `segments` death arrays [segments, L] (q_len = key_len = L), at `tiles`.
double mask_tile_density(std::span<const std::int32_t> death, std::int64_t segments, std::int64_t length,
                         TileShape tiles);

}  // namespace dmascope
