// The Dynamic Mask Attention mask in compact form.
//
// The bias β is one scalar per key (it depends on the key's value vector only), so every query row ranks the keys of
// its causal prefix by the same total order (β descending, then index ascending, as torch.topk on CUDA breaks ties).
// Row p keeps the w best keys of {0..p}. A key therefore enters the kept set on its own row (or never) and leaves it
// for good once w better keys exist: it is kept on one contiguous run of rows,
//     keep(p, j)  ⇔  j ≤ p < death[j],
// and the whole mask of one (batch, bias head) is L ints, never an L×L tensor. death[j] == j means "never kept";
// death[j] == key_len means "kept to the end". Positions are absolute: with a query block of q_len rows at the end of
// key_len keys (decoding, bottom-right alignment), query row i sits at position key_len - q_len + i.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace dmascope {

enum class MaskVariant {
  PerRowTopK,  // transformers' semantics (the checkpoints'): per query row, the top w keys of its causal prefix
  SharedTopK,  // flash-sparse-attn's "shared top-k": one top-w set over all keys (future ones included), then causal
};
std::string_view mask_variant_name(MaskVariant variant);
MaskVariant mask_variant_from_name(std::string_view name);  // "per-row" | "shared"; throws otherwise

// true when key a ranks before key b: larger β first, ties to the lower index. NaN ranks first (torch.topk
// treats NaN as the largest value).
bool key_ranks_before(float beta_a, std::int64_t index_a, float beta_b, std::int64_t index_b);

// Death index of every key of one (batch, bias head): O(L log w) time, O(w) extra memory. window >= 1.
std::vector<std::int32_t> dma_death_indices(std::span<const float> beta, std::int64_t window,
                                            MaskVariant variant = MaskVariant::PerRowTopK);

inline bool dma_keeps(std::span<const std::int32_t> death, std::int64_t position, std::int64_t key) {
  return key <= position && position < death[static_cast<std::size_t>(key)];
}

// Expands the compact form to [q_len, key_len] bytes (for dumps and small views).
std::vector<std::uint8_t> dma_expand_keep(std::span<const std::int32_t> death, std::int64_t q_len);

// Number of (row, key) pairs kept, over the q_len rows at the end.
std::int64_t dma_kept_count(std::span<const std::int32_t> death, std::int64_t q_len);

}  // namespace dmascope
