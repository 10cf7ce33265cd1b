// The dense DMA mask reference (tests/support/dma_dense_reference.h).
#include "tests/support/dma_dense_reference.h"

#include <algorithm>
#include <numeric>

#include "core/base/error.h"

namespace dmascope {

std::vector<std::uint8_t> dma_dense_keep_reference(std::span<const float> beta, std::int64_t q_len,
                                                   std::int64_t window, MaskVariant variant) {
  if (window < 1) fail("DMA window must be at least 1 key, got {}", window);
  const auto key_len = static_cast<std::int64_t>(beta.size());
  if (q_len < 0 || q_len > key_len) fail("q_len {} must be within [0, key_len {}]", q_len, key_len);
  std::vector<std::uint8_t> keep(static_cast<std::size_t>(q_len * key_len), 0);
  std::vector<std::int64_t> candidates;
  if (variant == MaskVariant::SharedTopK) {  // one set over all keys, then causal
    candidates.resize(static_cast<std::size_t>(key_len));
    std::iota(candidates.begin(), candidates.end(), 0);
    std::sort(candidates.begin(), candidates.end(),
              [&](std::int64_t a, std::int64_t b) { return key_ranks_before(beta[a], a, beta[b], b); });
    candidates.resize(static_cast<std::size_t>(std::min(window, key_len)));
    for (std::int64_t i = 0; i < q_len; ++i)
      for (std::int64_t j : candidates)
        if (j <= key_len - q_len + i) keep[i * key_len + j] = 1;
    return keep;
  }
  for (std::int64_t i = 0; i < q_len; ++i) {
    const std::int64_t position = key_len - q_len + i;
    candidates.resize(static_cast<std::size_t>(position + 1));
    std::iota(candidates.begin(), candidates.end(), 0);
    std::sort(candidates.begin(), candidates.end(),
              [&](std::int64_t a, std::int64_t b) { return key_ranks_before(beta[a], a, beta[b], b); });
    const std::int64_t kept = key_len > window ? std::min<std::int64_t>(window, position + 1) : position + 1;
    for (std::int64_t r = 0; r < kept; ++r) keep[i * key_len + candidates[r]] = 1;
  }
  return keep;
}

}  // namespace dmascope
