// Device entry point of the mask's level-of-detail reduction (kernels/view_reduce.cu). Twin: reduce_mask_to_grid
// (core/view/view_reduce.h) when the pixel rows tile the visible rows. Host-side use: cuda::reduce_mask_grid.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dmascope::cuda::detail {

// The largest grid height the kernel takes (its per-band counters live in shared memory: 16 bytes per band).
inline constexpr int kReduceMaxHeight = 2048;

// grid [height, width] (row-major) from death [length]: pixel column x covers keys [columns[2x], columns[2x+1]),
// pixel row y covers rows [band_starts[y], band_starts[y+1]) (contiguous, ascending); max: 1/0 for any kept cell,
// mean: kept / allowed; -1 (kNoCausalCell) where no cell is causally allowed.
void launch_reduce_mask_grid(const std::int32_t* death, int length, const std::int64_t* columns,
                             const std::int64_t* band_starts, int width, int height, bool max_mode, float* grid,
                             cudaStream_t stream);

}  // namespace dmascope::cuda::detail
