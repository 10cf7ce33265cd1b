// Attention on the CPU: the reference (one row at a time, optionally accumulating in double) and the tiled kernel
// that the product runs when there is no GPU. Both compute transformers' DMA semantics:
//     S[h, i, j] = q[h, i]·k[g(h), j] · scale + β[b(h), j]   if keep(i, j), masked otherwise
//     O[h, i]    = Σ_j softmax_j(S[h, i, ·]) v[g(h), j]
// with g(h) = h / (Hq / Hkv) the kv head and b(h) the bias head (the kv head, or h itself when Hb = Hq).
// Without a mask (death == nullptr) it is dense causal attention (+ β if given), bottom-right aligned.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/attention/tile_sizes.h"

namespace dmascope {

struct AttentionProblem {
  std::int64_t batch = 1, q_heads = 1, kv_heads = 1, bias_heads = 1;
  std::int64_t q_len = 0, key_len = 0, head_dim = 0;
  float scale = 1.0f;
  const float* q = nullptr;               // [batch, q_heads, q_len, head_dim]
  const float* k = nullptr;               // [batch, kv_heads, key_len, head_dim]
  const float* v = nullptr;               // [batch, kv_heads, key_len, head_dim]
  const float* beta = nullptr;            // [batch, bias_heads, key_len]; null: no additive bias
  const std::int32_t* death = nullptr;    // [batch, bias_heads, key_len] (see dma_mask.h); null: dense causal

  std::int64_t bias_head_of(std::int64_t q_head) const {
    return bias_heads == q_heads ? q_head : q_head / (q_heads / bias_heads);
  }
  std::int64_t kv_head_of(std::int64_t q_head) const { return q_head / (q_heads / kv_heads); }
  void validate() const;  // throws on inconsistent sizes
};

// out: [batch, q_heads, q_len, head_dim]. probs (optional): [batch, q_heads, q_len, key_len], exact zeros where masked.
void attention_reference(const AttentionProblem& problem, float* out, float* probs, bool accumulate_in_double);

struct TileShape {
  std::int64_t rows = kTileRows;  // query rows per tile (default: the CUDA kernel's)
  std::int64_t cols = kTileKeys;  // keys per tile
};

enum class TileStatus : std::uint8_t { Skipped = 0, Partial = 1, Full = 2 };
std::string_view tile_status_name(TileStatus status);

// Per (batch, bias head): the status of every (query tile, key tile) under the mask, row-major [q_tiles, k_tiles].
// Full = every (row, key) pair of the tile that exists is kept; Skipped = none is.
struct TileMap {
  TileShape shape;
  std::int64_t q_tiles = 0, k_tiles = 0;
  std::vector<std::uint8_t> status;
  std::int64_t skipped = 0, partial = 0, full = 0;
  std::int64_t kept_entries = 0;    // (row, key) pairs kept
  std::int64_t causal_entries = 0;  // (row, key) pairs allowed by causality alone
  double tile_density() const;      // (partial + full) / tiles under the causal diagonal
  double token_density() const;     // kept / causal
  std::int64_t causal_tiles = 0;    // tiles with at least one causally allowed pair
};

// death null: the dense causal map.
TileMap build_tile_map(const std::int32_t* death, std::int64_t key_len, std::int64_t q_len, TileShape shape);

struct AttentionWork {
  std::int64_t score_entries = 0;  // q·k dot products computed (what was executed)
  std::int64_t kept_entries = 0;   // of those, the ones the mask keeps (what was useful)
};

// The tiled kernel. For each query tile and bias head it gathers the keys that some row of the tile keeps (at most
// w + tile rows of them under DMA), then all query heads sharing that bias head compute scores against the gathered
// keys only and apply the per-element rule j ≤ p < death_j. Dense mode (death null) gathers nothing and runs over
// the causal prefix. out: [batch, q_heads, q_len, head_dim].
AttentionWork attention_tiled(const AttentionProblem& problem, TileShape shape, float* out);

}  // namespace dmascope
