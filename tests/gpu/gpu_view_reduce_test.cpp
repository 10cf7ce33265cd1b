// The mask's level of detail on the GPU (kernels/view_reduce.cu) against its CPU twin reduce_mask_to_grid, on fresh
// random masks and windows from the whole matrix to zoomed-in views; grids poisoned before every run. Skipped
// without a GPU.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <random>

#include "core/mask/dma_mask.h"
#include "core/base/error.h"
#include "kernels/cuda_captures.h"
#include "tests/gpu/gpu_test_support.h"

namespace dmascope::cuda {
namespace {

using test_support::random_beta;

struct ReduceCase {
  std::int64_t length, window, width, height;
  double zoom, center_row, center_col;
};

TEST(GpuViewReduce, EqualsTheCpuReductionOnEveryPixel) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(17);
  const ReduceCase cases[] = {{1, 1, 1, 1, 1, 0.5, 0.5},        {33, 8, 7, 5, 1, 0, 0},
                              {257, 64, 90, 70, 2.0, 200, 100}, {4096, 100, 97, 61, 1.7, 3000, 1500},
                              {32768, 1024, 554, 554, 1, 0, 0}, {131072, 64, 554, 554, 8, 100000, 90000},
                              {131072, 2048, 1000, 2048, 1, 0, 0}, {1000, 17, 600, 600, 30, 500, 480}};
  int gpu_reduced = 0;
  for (const ReduceCase& c : cases) {
    SCOPED_TRACE(testing::Message() << "L" << c.length << " w" << c.window << " " << c.width << "x" << c.height
                                    << " zoom " << c.zoom);
    CudaCaptures masks(1, 2, c.length, std::nullopt);
    std::vector<std::vector<std::int32_t>> deaths;
    for (int head = 0; head < 2; ++head) {
      deaths.push_back(dma_death_indices(random_beta(c.length, rng, head == 1 ? 3 : 0), c.window));
      ASSERT_EQ(cudaMemcpy(masks.death_data(0) + head * c.length, deaths.back().data(), c.length * 4,
                           cudaMemcpyHostToDevice), cudaSuccess);
    }
    const MatrixWindow window = visible_window(
        clamp_zoom_pan({c.zoom, c.center_row, c.center_col}, c.length, static_cast<double>(c.width)), c.length);
    for (int head = 0; head < 2; ++head)
      for (ReduceMode mode : {ReduceMode::Mean, ReduceMode::Max}) {
        const auto gpu = masks.reduce(0, head, window, c.width, c.height, mode);
        const auto cpu = reduce_mask_to_grid(deaths[head], window, c.width, c.height, mode);
        if (!gpu) continue;  // zoomed in: the CPU's path (checked below to happen only then)
        ++gpu_reduced;
        ASSERT_EQ(gpu->size(), cpu.size());
        for (std::size_t p = 0; p < cpu.size(); ++p)
          ASSERT_EQ((*gpu)[p], cpu[p]) << "pixel " << p % c.width << "," << p / c.width << " head " << head
                                       << " mode " << reduce_mode_name(mode);
      }
  }
  EXPECT_EQ(gpu_reduced, 7 * 4) << "every case but the zoomed-in one reduces on the GPU";
  CudaCaptures masks(1, 1, 100, std::nullopt);
  EXPECT_FALSE(masks.reduce(0, 0, visible_window(whole_matrix(100), 100), 10, 4096, ReduceMode::Max))
      << "taller than the kernel takes: the CPU's";
  EXPECT_THROW(masks.reduce(0, 1, visible_window(whole_matrix(100), 100), 10, 10, ReduceMode::Max), Error);
}

}  // namespace
}  // namespace dmascope::cuda
