// View-sized grids of the CUDA kernel's own tile map (KernelTileMap, 64×64 tiles), free of ImGui and GL so that they
// are unit-tested: the statuses of one bias head, and each CTA's time (one CTA per query head and query tile) spread
// over the causal tiles of its query tile. Pixels wholly above the diagonal hold kNoCausalCell in both.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/timing/timing_results.h"
#include "core/attention/attention_cpu.h"
#include "core/view/view_geometry.h"

namespace dmascope::engine {

// The kernel's statuses of one bias head as a core TileMap (counts filled in), so that core's reductions apply.
TileMap kernel_status_map(const KernelTileMap& map, std::int64_t bias_head, std::int64_t length);

std::vector<float> kernel_status_grid(const KernelTileMap& map, std::int64_t bias_head, std::int64_t length,
                                      const MatrixWindow& window, std::int64_t width, std::int64_t height);
// µs of the CTA that computed each pixel's query rows (the largest over the query tiles a pixel covers).
std::vector<float> kernel_cta_grid(const KernelTileMap& map, std::int64_t q_head, std::int64_t length,
                                   const MatrixWindow& window, std::int64_t width, std::int64_t height);

struct CtaTimeRange {
  double low_us = 0, high_us = 0;
};
CtaTimeRange cta_time_range(const KernelTileMap& map, std::int64_t q_head);

}  // namespace dmascope::engine
