// The dense DMA mask reference the mask tests compare against (test-only: the product never materializes a dense mask).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/mask/dma_mask.h"

namespace dmascope {

// Per row, causal masking then the top-w keys, materialized as [q_len, key_len] bytes (1 = kept). Written the direct
// way (sort each row) so that it shares nothing with dma_death_indices but the key order (key_ranks_before).
std::vector<std::uint8_t> dma_dense_keep_reference(std::span<const float> beta, std::int64_t q_len,
                                                   std::int64_t window, MaskVariant variant = MaskVariant::PerRowTopK);

}  // namespace dmascope
