// One query head of one layer as the lab sees it: spans into the forward's captures (query, its kv head's key and
// value, its bias head's β) plus the strategy inputs made from them at the lab's budget w. Row-major [L, d] each;
// the lab never holds an [L, L] buffer.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/model/doge_forward.h"

namespace dmascope {

struct DamHeadMask;  // core/lab/dam.h

struct LabHead {
  std::int64_t length = 0;    // L: query rows = keys (prefill, batch 1)
  std::int64_t head_dim = 0;  // d
  float scale = 1.0f;         // 1/√d as the forward uses
  std::int64_t window = 0;    // the budget w ≥ 1
  std::span<const float> query;               // [L, d] after RoPE
  std::span<const float> key;                 // [L, d] its kv head, after RoPE
  std::span<const float> value;               // [L, d] its kv head
  std::span<const float> beta;                // [L] its bias head's β
  std::span<const std::int32_t> dma_death;    // [L] per-row top-w death indices of β at `window` (strategy dma)
  std::span<const std::int32_t> shared_death; // [L] shared top-w death indices (strategy shared)
  const DamHeadMask* dam = nullptr;           // the calibrated DAM mask of this (layer, head); null: dam unavailable
  void validate() const;  // Error naming the span that does not fit L and d
};

// One layer's captures rearranged for the lab: each kv head's values contiguous, death indices of both DMA variants
// at the lab's budget (recomputed from β: the lab's w may differ from the forward's).
class LabLayer {
 public:
  // capture: a LayerCapture of a forward run with capture on; window ≥ 1. Error naming the tensor that is missing.
  LabLayer(const LayerCapture& capture, std::int64_t window);
  std::int64_t query_heads() const { return query_heads_; }
  std::int64_t kv_heads() const { return kv_heads_; }
  std::int64_t bias_heads() const { return bias_heads_; }
  std::int64_t length() const { return length_; }
  std::int64_t kv_head_of(std::int64_t head) const { return head / (query_heads_ / kv_heads_); }
  std::int64_t bias_head_of(std::int64_t head) const {
    return bias_heads_ == query_heads_ ? head : head / (query_heads_ / bias_heads_);
  }
  // The view of query head `head`; `dam` as LabHead::dam. The LabLayer must outlive it.
  LabHead head(std::int64_t head, const DamHeadMask* dam = nullptr) const;

 private:
  std::int64_t query_heads_ = 0, kv_heads_ = 0, bias_heads_ = 0, length_ = 0, head_dim_ = 0, window_ = 0;
  const float* query_ = nullptr;             // [H, L, d] (the capture's)
  const float* key_ = nullptr;               // [Hkv, L, d] (the capture's)
  const float* beta_ = nullptr;              // [Hb, L] (the capture's)
  std::vector<float> values_;                // [Hkv, L, d] (the capture holds [L, Hkv·d])
  std::vector<std::int32_t> dma_death_;      // [Hb, L]
  std::vector<std::int32_t> shared_death_;   // [Hb, L]
};

}  // namespace dmascope
