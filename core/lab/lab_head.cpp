#include "core/lab/lab_head.h"

#include <algorithm>
#include <cmath>

#include "core/base/error.h"
#include "core/mask/dma_mask.h"

namespace dmascope {

void LabHead::validate() const {
  if (length < 1 || head_dim < 1) fail("lab head: length {} and head_dim {} must be ≥ 1", length, head_dim);
  if (window < 1) fail("lab head: window {} must be ≥ 1", window);
  const auto rows = static_cast<std::size_t>(length * head_dim);
  if (query.size() != rows) fail("lab head: query holds {} values, expected L·d = {}", query.size(), rows);
  if (key.size() != rows) fail("lab head: key holds {} values, expected L·d = {}", key.size(), rows);
  if (value.size() != rows) fail("lab head: value holds {} values, expected L·d = {}", value.size(), rows);
  if (beta.size() != static_cast<std::size_t>(length))
    fail("lab head: beta holds {} values, expected L = {}", beta.size(), length);
  if (!dma_death.empty() && dma_death.size() != beta.size())
    fail("lab head: dma_death holds {} values, expected L = {}", dma_death.size(), length);
  if (!shared_death.empty() && shared_death.size() != beta.size())
    fail("lab head: shared_death holds {} values, expected L = {}", shared_death.size(), length);
}

namespace {

const float* f32_data(const Tensor& tensor, const char* name, std::size_t rank) {
  if (!tensor.defined() || tensor.numel() == 0 || tensor.shape().size() != rank || tensor.dtype() != DType::F32)
    fail("mask lab: the forward capture '{}' is missing or not an F32 tensor of rank {} (run the forward with "
         "capture on)", name, rank);
  return tensor.data<float>();
}

}  // namespace

LabLayer::LabLayer(const LayerCapture& capture, std::int64_t window) : window_(window) {
  query_ = f32_data(capture.q_rope, "q_rope", 4);
  key_ = f32_data(capture.k_rope, "k_rope", 4);
  beta_ = f32_data(capture.dyn_bias, "dyn_bias", 3);
  const float* value = f32_data(capture.v, "v", 3);
  query_heads_ = capture.q_rope.dim(1);
  length_ = capture.q_rope.dim(2);
  head_dim_ = capture.q_rope.dim(3);
  kv_heads_ = capture.k_rope.dim(1);
  bias_heads_ = capture.dyn_bias.dim(1);
  if (window < 1) fail("mask lab: window {} must be ≥ 1", window);
  if (capture.k_rope.dim(2) != length_ || capture.k_rope.dim(3) != head_dim_ || kv_heads_ < 1 ||
      query_heads_ % kv_heads_ != 0)
    fail("mask lab: k_rope {} does not fit q_rope {}", shape_str(capture.k_rope.shape()),
         shape_str(capture.q_rope.shape()));
  if (capture.v.dim(1) != length_ || capture.v.dim(2) != kv_heads_ * head_dim_)
    fail("mask lab: v {} does not fit {} kv heads of dimension {}", shape_str(capture.v.shape()), kv_heads_,
         head_dim_);
  if (capture.dyn_bias.dim(2) != length_ || bias_heads_ < 1 || query_heads_ % bias_heads_ != 0)
    fail("mask lab: dyn_bias {} does not fit {} query heads of length {}", shape_str(capture.dyn_bias.shape()),
         query_heads_, length_);
  // v is [L, Hkv·d] (the projection's layout); the lab reads one kv head's [L, d] at a time.
  values_.resize(static_cast<std::size_t>(kv_heads_ * length_ * head_dim_));
  for (std::int64_t g = 0; g < kv_heads_; ++g)
    for (std::int64_t t = 0; t < length_; ++t)
      std::copy_n(value + (t * kv_heads_ + g) * head_dim_, head_dim_,
                  values_.begin() + (g * length_ + t) * head_dim_);
  dma_death_.reserve(static_cast<std::size_t>(bias_heads_ * length_));
  shared_death_.reserve(static_cast<std::size_t>(bias_heads_ * length_));
  for (std::int64_t b = 0; b < bias_heads_; ++b) {
    const std::span<const float> beta(beta_ + b * length_, static_cast<std::size_t>(length_));
    const auto per_row = dma_death_indices(beta, window, MaskVariant::PerRowTopK);
    const auto shared = dma_death_indices(beta, window, MaskVariant::SharedTopK);
    dma_death_.insert(dma_death_.end(), per_row.begin(), per_row.end());
    shared_death_.insert(shared_death_.end(), shared.begin(), shared.end());
  }
}

LabHead LabLayer::head(std::int64_t head, const DamHeadMask* dam) const {
  if (head < 0 || head >= query_heads_) fail("mask lab: head {} out of range (the layer has {})", head, query_heads_);
  const auto Ld = static_cast<std::size_t>(length_ * head_dim_);
  const auto L = static_cast<std::size_t>(length_);
  const std::int64_t g = kv_head_of(head), b = bias_head_of(head);
  LabHead view;
  view.length = length_;
  view.head_dim = head_dim_;
  view.scale = 1.0f / std::sqrt(static_cast<float>(head_dim_));
  view.window = window_;
  view.query = {query_ + head * length_ * head_dim_, Ld};
  view.key = {key_ + g * length_ * head_dim_, Ld};
  view.value = {values_.data() + g * length_ * head_dim_, Ld};
  view.beta = {beta_ + b * length_, L};
  view.dma_death = {dma_death_.data() + b * length_, L};
  view.shared_death = {shared_death_.data() + b * length_, L};
  view.dam = dam;
  return view;
}

}  // namespace dmascope
