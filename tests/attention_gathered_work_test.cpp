// gathered_work (core/attention/gathered_work.h) counts exactly the work the tiled kernel does: its executed pairs
// equal attention_tiled's score entries, its gathered keys a brute-force union over each tile's rows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <span>

#include "core/attention/attention_cpu.h"
#include "core/attention/gathered_work.h"
#include "core/base/error.h"
#include "core/mask/dma_mask.h"

namespace dmascope {
namespace {

std::vector<std::int32_t> random_death(std::int64_t length, std::int64_t window, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> beta(static_cast<std::size_t>(length));
  for (float& value : beta) value = std::exp(normal(rng));
  return dma_death_indices(std::span<const float>(beta), window);
}

TEST(GatheredWork, KeysPerTileAreTheUnionOfTheTilesKeptKeys) {
  const std::int64_t L = 200, rows = 16;
  const auto death = random_death(L, 24, 7);
  const GatheredWork work = gathered_work(death.data(), L, rows);
  ASSERT_EQ(work.keys_per_tile.size(), 13u);
  double kept = 0;
  for (std::int64_t qt = 0; qt < 13; ++qt) {
    std::set<std::int64_t> keys;
    for (std::int64_t p = qt * rows; p < std::min(L, (qt + 1) * rows); ++p)
      for (std::int64_t j = 0; j <= p; ++j)
        if (p < death[static_cast<std::size_t>(j)]) keys.insert(j);
    EXPECT_EQ(work.keys_per_tile[static_cast<std::size_t>(qt)], static_cast<std::int32_t>(keys.size())) << qt;
  }
  for (std::int64_t p = 0; p < L; ++p)
    for (std::int64_t j = 0; j <= p; ++j) kept += p < death[static_cast<std::size_t>(j)];
  EXPECT_EQ(work.kept_pairs, kept);
}

TEST(GatheredWork, ExecutedPairsEqualTheTiledKernelsScoreEntriesDmaAndDense) {
  const std::int64_t L = 300, d = 8, rows = 32;
  const auto death = random_death(L, 40, 3);
  std::vector<float> q(L * d), k(L * d), v(L * d), out(L * d);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto* x : {&q, &k, &v})
    for (float& value : *x) value = normal(rng);
  AttentionProblem problem;
  problem.q_len = problem.key_len = L;
  problem.head_dim = d;
  problem.q = q.data();
  problem.k = k.data();
  problem.v = v.data();
  problem.death = death.data();
  const AttentionWork dma = attention_tiled(problem, TileShape{rows, rows}, out.data());
  problem.death = nullptr;
  const AttentionWork dense = attention_tiled(problem, TileShape{rows, rows}, out.data());
  const GatheredWork work = gathered_work(death.data(), L, rows);
  EXPECT_EQ(work.executed_pairs, static_cast<double>(dma.score_entries));
  EXPECT_EQ(work.dense_pairs, static_cast<double>(dense.score_entries));
  EXPECT_EQ(work.kept_pairs, static_cast<double>(dma.kept_entries));
  EXPECT_GT(work.ideal_speedup(), 1.0);
}

TEST(GatheredWork, AWindowOfAtLeastLKeepsEverythingAndBadArgumentsAreRefused) {
  const std::int64_t L = 64;
  const auto death = random_death(L, L, 5);
  const GatheredWork work = gathered_work(death.data(), L, 16);
  EXPECT_EQ(work.executed_pairs, work.dense_pairs);
  EXPECT_EQ(work.ideal_speedup(), 1.0);
  EXPECT_EQ(work.max_keys_per_tile(), 64);
  EXPECT_THROW(gathered_work(death.data(), L, 0), Error);
}

}  // namespace
}  // namespace dmascope

namespace dmascope {
namespace {

// The Tile map and Timing panels report the kernels' work: query tiles of the kernels' height (kTileRows), not the
// view's tile map tiles (16×16 in the tour), which would report a quarter of the rows and fewer keys per tile.
TEST(GatheredWork, TheKernelsWorkUsesTheKernelsQueryTileHeight) {
  const std::int64_t L = 256, w = 64;
  std::vector<std::int32_t> death(L);
  for (std::int64_t j = 0; j < L; ++j) death[static_cast<std::size_t>(j)] = static_cast<std::int32_t>(std::min(L, j + w));
  const GatheredWork kernel = kernel_gathered_work(death.data(), L);
  EXPECT_EQ(kernel.tile_rows, kTileRows);
  EXPECT_EQ(kernel.tile_rows, TileShape{}.rows);
  EXPECT_EQ(kernel.keys_per_tile.size(), static_cast<std::size_t>(L / kTileRows));
  EXPECT_GT(kernel.mean_keys_per_tile(), gathered_work(death.data(), L, 16).mean_keys_per_tile());
}

}  // namespace
}  // namespace dmascope
