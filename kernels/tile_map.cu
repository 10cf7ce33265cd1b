// Tile maps on the GPU for any tile shape, for the views of a model forward (the forward kernels' own 64×64 tiles come
// from their counters when instrumented: kernels/attention_fwd.cuh). On the CPU, build_tile_map costs O(q_tiles · L)
// per map: ~40 ms per map at L = 32K with 16-row tiles, which alone would blow the app's 100 ms recompute budget; here it is a fraction of a millisecond.
//
// grid (ceil(q_tiles·k_tiles / 256), segments), block 256, shared memory: 6 counters. One thread per tile (qt, kt):
// it walks the tile's ≤ cols keys, adding for key j the rows [max(j, p0), p1) it is causally allowed on and the rows
// [max(j, p0), min(p1, death[j])) it is kept on — the same sums as build_tile_map, so the statuses are identical.
// Tiles wholly above the causal diagonal walk no key. Counters are summed per block in shared memory, then one global
// atomic per block and counter.
#include "kernels/cuda_check.h"
#include "kernels/tile_map.cuh"

namespace dmascope::cuda::detail {

namespace {

__global__ void tile_map_kernel(const std::int32_t* death, int length, int rows, int cols, int q_tiles, int k_tiles,
                                std::uint8_t* status, unsigned long long* counters) {
  __shared__ unsigned long long block_counters[kTileMapCounters];
  if (threadIdx.x < kTileMapCounters) block_counters[threadIdx.x] = 0;
  __syncthreads();
  const int segment = blockIdx.y;
  const long long tiles = static_cast<long long>(q_tiles) * k_tiles;
  const long long tile = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (tile < tiles) {
    const int qt = static_cast<int>(tile / k_tiles), kt = static_cast<int>(tile % k_tiles);
    const int p0 = qt * rows, p1 = min(length, p0 + rows);
    const int j0 = kt * cols, j1 = min(length, j0 + cols);
    const std::int32_t* segment_death = death + static_cast<long long>(segment) * length;
    long long kept = 0, causal = 0;
    for (int j = j0; j < min(j1, p1); ++j) {
      const int from = max(j, p0), to_kept = min(p1, segment_death[j]);
      causal += p1 - from;
      if (to_kept > from) kept += to_kept - from;
    }
    const bool full = kept == causal && causal == static_cast<long long>(p1 - p0) * (j1 - j0);
    const int value = kept == 0 ? 0 : full ? 2 : 1;  // TileStatus: Skipped, Partial, Full
    status[static_cast<long long>(segment) * tiles + tile] = static_cast<std::uint8_t>(value);
    atomicAdd(&block_counters[value], 1ULL);
    if (causal > 0) atomicAdd(&block_counters[3], 1ULL);
    if (kept > 0) atomicAdd(&block_counters[4], static_cast<unsigned long long>(kept));
    if (causal > 0) atomicAdd(&block_counters[5], static_cast<unsigned long long>(causal));
  }
  __syncthreads();
  if (threadIdx.x < kTileMapCounters && block_counters[threadIdx.x] != 0)
    atomicAdd(&counters[segment * kTileMapCounters + threadIdx.x], block_counters[threadIdx.x]);
}

}  // namespace

void launch_tile_map(const std::int32_t* death, int segments, int length, int rows, int cols, std::uint8_t* status,
                     unsigned long long* counters, cudaStream_t stream) {
  if (rows < 1 || cols < 1) throw_kernel_error("tile map: tile shape must be positive");
  if (segments == 0 || length == 0) return;
  const int q_tiles = (length + rows - 1) / rows, k_tiles = (length + cols - 1) / cols;
  const long long tiles = static_cast<long long>(q_tiles) * k_tiles;
  const long long blocks = (tiles + 255) / 256;
  if (blocks >= (1LL << 31)) throw_kernel_error("tile map: too many tiles (" + std::to_string(tiles) + ")");
  tile_map_kernel<<<dim3(static_cast<unsigned>(blocks), segments), 256, 0, stream>>>(death, length, rows, cols, q_tiles,
                                                                                     k_tiles, status, counters);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda::detail
