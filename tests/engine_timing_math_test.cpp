// The Timing view's arithmetic (core/compute/timing_math.h, sweep_points.h): FLOP rates, executed pairs, sweep points.
#include <gtest/gtest.h>

#include <random>

#include "engine/timing/sweep_points.h"
#include "core/compute/timing_math.h"
#include "core/mask/bias_patterns.h"
#include "core/mask/dma_mask.h"

namespace dmascope::engine {
namespace {

TEST(AppTimingMath, TflopsCountFourTimesHeadDimPerPair) {
  // 1e9 pairs at d = 64 in 1 ms: 4·64·1e9 FLOPs / 1e-3 s = 256 TFLOP/s.
  EXPECT_DOUBLE_EQ(attention_tflops_per_second(1e9, 64, 1.0), 256.0);
  EXPECT_DOUBLE_EQ(attention_tflops_per_second(1e9, 128, 2.0), 256.0);
  EXPECT_EQ(attention_tflops_per_second(1e9, 64, 0.0), 0.0);  // not timed: no rate, never inf
  EXPECT_EQ(attention_tflops_per_second(0, 64, 1.0), 0.0);
}

TEST(AppTimingMath, TiledCausalPairsRoundEachTilesPrefixUpToWholeBlocks) {
  // L = 128, 64×64 tiles: tile 0 computes 64×64, tile 1 computes 64×128.
  EXPECT_DOUBLE_EQ(tiled_causal_pairs(128, 128, 64, 64), 64.0 * 64 + 64.0 * 128);
  // L = 100: tile 1 covers rows 64..99 but the kernel still runs 64 rows × keys 0..99 rounded to 128 (capped at L).
  EXPECT_DOUBLE_EQ(tiled_causal_pairs(100, 100, 64, 64), 64.0 * 64 + 64.0 * 100);
  // With 1×1 tiles the count is exactly the causal pairs.
  EXPECT_DOUBLE_EQ(tiled_causal_pairs(37, 37, 1, 1), causal_pairs(37, 37));
  // Never fewer than the causal pairs.
  for (std::int64_t L : {1, 63, 64, 65, 1000, 4096}) EXPECT_GE(tiled_causal_pairs(L, L, 64, 64), causal_pairs(L, L));
}

TEST(AppTimingMath, KeptPairsEqualsTheCoreCountOnRandomMasks) {
  std::mt19937 rng(7);
  for (std::int64_t L : {1, 17, 300, 2048}) {
    const auto beta = make_bias(BiasPattern::Random, 1, L, rng());
    for (std::int64_t w : {1, 16, 64, 5000}) {
      const auto death = dma_death_indices(beta, w);
      EXPECT_DOUBLE_EQ(kept_pairs(death, L), static_cast<double>(dma_kept_count(death, L))) << "L" << L << " w" << w;
    }
  }
  EXPECT_DOUBLE_EQ(full_pairs(3, 5), 15.0);
  EXPECT_EQ(cpu_materialized_bytes(4, 1024), std::size_t{4} * 1024 * 1024 * 4);
}

TEST(AppSweepPoints, LengthSweepIsPowersOfTwoFrom1KTo128KOnCudaAndShorterOnCpu) {
  const auto gpu = length_sweep_points(true);
  ASSERT_EQ(gpu.size(), 8u);
  EXPECT_EQ(gpu.front(), 1024);
  EXPECT_EQ(gpu.back(), 131072);
  const auto cpu = length_sweep_points(false);
  EXPECT_EQ(cpu.front(), kCpuSweepMinLength);
  EXPECT_EQ(cpu.back(), kCpuSweepMaxLength);
  for (std::size_t n = 1; n < gpu.size(); ++n) EXPECT_EQ(gpu[n], 2 * gpu[n - 1]);
}

TEST(AppSweepPoints, WindowSweepHoldsTheCurrentWindowAndEndsAtL) {
  EXPECT_EQ(window_sweep_points(256, 48), (std::vector<std::int64_t>{16, 32, 48, 64, 128, 256}));
  EXPECT_EQ(window_sweep_points(256, 64), (std::vector<std::int64_t>{16, 32, 64, 128, 256}));
  EXPECT_EQ(window_sweep_points(10, 64), (std::vector<std::int64_t>{10}));  // w > L is clamped to L
  EXPECT_TRUE(window_sweep_points(0, 16).empty());
}

TEST(AppSweepPoints, TokenCountLabelsUseKForWholeKibis) {
  EXPECT_EQ(token_count_label(1024), "1K");
  EXPECT_EQ(token_count_label(131072), "128K");
  EXPECT_EQ(token_count_label(96), "96");
  EXPECT_EQ(token_count_label(1500), "1500");
}

}  // namespace
}  // namespace dmascope::engine
