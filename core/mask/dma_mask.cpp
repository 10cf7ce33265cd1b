#include "core/mask/dma_mask.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>

#include "core/base/error.h"

namespace dmascope {

std::string_view mask_variant_name(MaskVariant variant) {
  return variant == MaskVariant::PerRowTopK ? "per-row" : "shared";
}

MaskVariant mask_variant_from_name(std::string_view name) {
  if (name == "per-row") return MaskVariant::PerRowTopK;
  if (name == "shared") return MaskVariant::SharedTopK;
  fail("unknown mask variant '{}' (expected 'per-row' or 'shared')", name);
}

bool key_ranks_before(float beta_a, std::int64_t index_a, float beta_b, std::int64_t index_b) {
  const bool nan_a = std::isnan(beta_a), nan_b = std::isnan(beta_b);
  if (nan_a != nan_b) return nan_a;
  if (!nan_a && beta_a != beta_b) return beta_a > beta_b;
  return index_a < index_b;
}

namespace {

void check_window(std::int64_t window) {
  if (window < 1) fail("DMA window must be at least 1 key, got {}", window);
}

std::vector<std::int32_t> shared_topk_death(std::span<const float> beta, std::int64_t window) {
  const auto key_len = static_cast<std::int64_t>(beta.size());
  std::vector<std::int32_t> death(beta.size());
  std::vector<std::int32_t> order(beta.size());
  std::iota(order.begin(), order.end(), 0);
  const std::int64_t kept = std::min(window, key_len);
  std::partial_sort(order.begin(), order.begin() + kept, order.end(),
                    [&](std::int32_t a, std::int32_t b) { return key_ranks_before(beta[a], a, beta[b], b); });
  for (std::int64_t j = 0; j < key_len; ++j) death[j] = static_cast<std::int32_t>(j);  // never kept ...
  for (std::int64_t r = 0; r < kept; ++r) death[order[r]] = static_cast<std::int32_t>(key_len);  // ... unless chosen
  return death;
}

}  // namespace

std::vector<std::int32_t> dma_death_indices(std::span<const float> beta, std::int64_t window, MaskVariant variant) {
  check_window(window);
  if (beta.size() > static_cast<std::size_t>(INT32_MAX)) fail("sequence of {} keys is too long", beta.size());
  if (variant == MaskVariant::SharedTopK) return shared_topk_death(beta, window);

  const auto key_len = static_cast<std::int32_t>(beta.size());
  std::vector<std::int32_t> death(beta.size(), key_len);
  // The kept set as a heap whose top is its worst key: a new key either beats the worst (which dies on this row)
  // or is never kept at all.
  auto worse_on_top = [&](std::int32_t a, std::int32_t b) { return key_ranks_before(beta[a], a, beta[b], b); };
  std::priority_queue<std::int32_t, std::vector<std::int32_t>, decltype(worse_on_top)> kept(worse_on_top);
  for (std::int32_t j = 0; j < key_len; ++j) {
    if (static_cast<std::int64_t>(kept.size()) < window) {
      kept.push(j);
      continue;
    }
    const std::int32_t worst = kept.top();
    if (key_ranks_before(beta[j], j, beta[worst], worst)) {
      kept.pop();
      death[worst] = j;
      kept.push(j);
    } else {
      death[j] = j;
    }
  }
  return death;
}

std::vector<std::uint8_t> dma_expand_keep(std::span<const std::int32_t> death, std::int64_t q_len) {
  const auto key_len = static_cast<std::int64_t>(death.size());
  std::vector<std::uint8_t> keep(static_cast<std::size_t>(q_len * key_len), 0);
  for (std::int64_t i = 0; i < q_len; ++i) {
    const std::int64_t position = key_len - q_len + i;
    for (std::int64_t j = 0; j <= position; ++j) keep[i * key_len + j] = position < death[j];
  }
  return keep;
}

std::int64_t dma_kept_count(std::span<const std::int32_t> death, std::int64_t q_len) {
  const auto key_len = static_cast<std::int64_t>(death.size());
  const std::int64_t first_position = key_len - q_len;
  std::int64_t count = 0;
  for (std::int64_t j = 0; j < key_len; ++j) {
    const std::int64_t from = std::max<std::int64_t>(j, first_position);
    if (death[j] > from) count += death[j] - from;
  }
  return count;
}

}  // namespace dmascope
