// The mask's level of detail on the GPU, the same counting as core/view/view_reduce.cpp's interval path: one block per
// pixel column; each thread takes keys of the column, and for key j adds its kept rows [j, death_j) and allowed rows
// [j, end) to the bands they cross — the two end bands directly, the bands between through a difference array — in
// shared memory; then one thread per band turns the difference array into counts (a block-wide prefix sum) and writes
// the pixel. Integer counts, so the floats equal the CPU's.
#include "kernels/cuda_check.h"
#include "kernels/view_reduce.cuh"

namespace dmascope::cuda::detail {

namespace {

constexpr int kThreads = 256;

__device__ int band_of(const std::int64_t* starts, int height, std::int64_t row) {  // starts[0] ≤ row < starts[height]
  int low = 0, high = height - 1;
  while (low < high) {
    const int middle = (low + high + 1) / 2;
    if (starts[middle] <= row) low = middle;
    else high = middle - 1;
  }
  return low;
}

__device__ void add_interval(const std::int64_t* starts, int height, std::int64_t a, std::int64_t b,
                             unsigned long long* counts, int* inner) {
  a = max(a, starts[0]);
  b = min(b, starts[height]);
  if (a >= b) return;
  const int ya = band_of(starts, height, a), yb = band_of(starts, height, b - 1);
  if (ya == yb) {
    atomicAdd(&counts[ya], static_cast<unsigned long long>(b - a));
    return;
  }
  atomicAdd(&counts[ya], static_cast<unsigned long long>(starts[ya + 1] - a));
  atomicAdd(&counts[yb], static_cast<unsigned long long>(b - starts[yb]));
  atomicAdd(&inner[ya + 1], 1);
  atomicAdd(&inner[yb], -1);
}

__global__ void reduce_mask_grid_kernel(const std::int32_t* death, const std::int64_t* columns,
                                        const std::int64_t* band_starts, int width, int height, bool max_mode,
                                        float* grid) {
  extern __shared__ unsigned char shared[];
  auto* kept = reinterpret_cast<unsigned long long*>(shared);
  auto* allowed = kept + height;
  auto* kept_inner = reinterpret_cast<int*>(allowed + height);
  int* allowed_inner = kept_inner + height + 1;
  for (int y = threadIdx.x; y < height; y += blockDim.x) kept[y] = allowed[y] = 0;
  for (int y = threadIdx.x; y <= height; y += blockDim.x) kept_inner[y] = allowed_inner[y] = 0;
  __syncthreads();
  const int x = blockIdx.x;
  const std::int64_t end_row = band_starts[height];
  const std::int64_t key_end = min(columns[2 * x + 1], end_row);
  for (std::int64_t j = columns[2 * x] + threadIdx.x; j < key_end; j += blockDim.x) {
    add_interval(band_starts, height, j, death[j], kept, kept_inner);
    add_interval(band_starts, height, j, end_row, allowed, allowed_inner);
  }
  __syncthreads();
  if (threadIdx.x == 0) {  // the running sums over ≤ kReduceMaxHeight bands: short next to the key loop
    long long kept_run = 0, allowed_run = 0;
    for (int y = 0; y < height; ++y) {
      const long long rows = band_starts[y + 1] - band_starts[y];
      kept_run += kept_inner[y];
      allowed_run += allowed_inner[y];
      const unsigned long long k = kept[y] + static_cast<unsigned long long>(kept_run * rows);
      const unsigned long long a = allowed[y] + static_cast<unsigned long long>(allowed_run * rows);
      grid[static_cast<long long>(y) * width + x] =
          a == 0 ? -1.0f : max_mode ? (k > 0 ? 1.0f : 0.0f) : static_cast<float>(static_cast<double>(k) / a);
    }
  }
}

}  // namespace

void launch_reduce_mask_grid(const std::int32_t* death, int length, const std::int64_t* columns,
                             const std::int64_t* band_starts, int width, int height, bool max_mode, float* grid,
                             cudaStream_t stream) {
  if (width < 1 || height < 1 || height > kReduceMaxHeight)
    throw_kernel_error("view reduction: grid " + std::to_string(width) + "x" + std::to_string(height) +
                       " outside 1..∞ x 1.." + std::to_string(kReduceMaxHeight));
  if (length == 0) return;
  const std::size_t shared_bytes = static_cast<std::size_t>(height) * 16 + static_cast<std::size_t>(height + 1) * 8;
  if (shared_bytes > 48 * 1024)
    DMASCOPE_CUDA_CHECK(cudaFuncSetAttribute(reduce_mask_grid_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(shared_bytes)));
  reduce_mask_grid_kernel<<<width, kThreads, shared_bytes, stream>>>(death, columns, band_starts, width, height,
                                                                     max_mode, grid);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda::detail
