// The strategies a death array expresses (keep(i, j) ⇔ j ≤ i < death[j], core/mask/dma_mask.h): dma and shared by
// construction (their death indices come from β), swa and sinks by position. Those four run on the DMA kernels
// themselves in the GPU lab (kernels/lab_dma_kernels.h); oracle, nsa and dam choose keys per row in ways one death
// index per key cannot say, so they run on the generic gather kernel.
#pragma once

#include <cstdint>
#include <vector>

#include "core/lab/strategy.h"

namespace dmascope {

// dma, shared, swa, sinks.
bool strategy_has_death_indices(Strategy strategy);

// The death indices of swa or sinks at budget w ≥ 1 over L keys: swa keeps keys i − w + 1 … i, so key j dies at row
// j + w; sinks keeps its first min(4, w − 1) keys on every row (death L) and the rest for w − sinks rows. Error for
// any other strategy (dma's and shared's depend on β: dma_death_indices).
std::vector<std::int32_t> positional_death_indices(Strategy strategy, std::int64_t length, std::int64_t window);

}  // namespace dmascope
