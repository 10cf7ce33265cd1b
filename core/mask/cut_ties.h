// Rows whose DMA cut falls on a tie.
//
// Row p keeps the w best keys of its prefix {0..p} (dma_mask.h). When the w-th and the (w+1)-th best of them have the
// same β, the kept set is decided by the tie rule, not by β: we keep the lower index, as torch.topk does on CUDA;
// torch.topk on the CPU leaves it unspecified, so a checkpoint run there may keep the other key. Layer 0's β depends
// only on the token, so every repeated token ties, and a bf16 β ties far more often than an fp32 one. These are the
// rows where two correct implementations may disagree about the mask.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/mask/dma_mask.h"

namespace dmascope {

struct CutTies {
  std::vector<std::int32_t> tied_rows;  // positions whose cut is on a tie, ascending

  std::int64_t count() const { return static_cast<std::int64_t>(tied_rows.size()); }
  bool row_is_tied(std::int64_t position) const;  // binary search
};

// Two β values tie when they are equal (+0 == −0) or both NaN (torch.topk ranks every NaN as the largest value).
bool beta_ties(float a, float b);

// The tied rows of one (batch, bias head), in O(L log w) time and O(w) extra memory (never L×L).
//   PerRowTopK: row p (p ≥ w) is tied when its w-th and (w+1)-th best keys tie; rows p < w keep their whole prefix.
//   SharedTopK: one cut over all L keys. When the w-th and (w+1)-th best of all keys tie, row p is tied from the first
//     position of that tied β value on (from there the chosen members of the tie decide what row p keeps).
// window >= 1.
CutTies dma_cut_ties(std::span<const float> beta, std::int64_t window, MaskVariant variant = MaskVariant::PerRowTopK);

// The same for every head of a layer's β [heads, L] (a LayerCapture's dyn_bias), one CutTies per head.
std::vector<CutTies> dma_cut_ties_per_head(std::span<const float> beta, std::int64_t heads, std::int64_t window,
                                           MaskVariant variant);

}  // namespace dmascope
