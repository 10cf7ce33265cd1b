// count_kernel_work (core/attention/kernel_counters.h), the CPU twin of the CUDA forward's counters, against a
// brute-force walk over every (row, key) pair, and the tile map and gathered work made from counters against
// build_tile_map and kernel_gathered_work on the same mask.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>

#include "core/attention/attention_cpu.h"
#include "core/attention/gathered_work.h"
#include "core/attention/kernel_counters.h"
#include "core/attention/tile_sizes.h"
#include "core/base/error.h"
#include "core/mask/dma_mask.h"

namespace dmascope {
namespace {

// death [segments, key_len] of random β (exp N(0, 1) per key), a top-w mask per segment.
std::vector<std::int32_t> random_deaths(std::int64_t segments, std::int64_t key_len, std::int64_t window,
                                        std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::int32_t> deaths;
  for (std::int64_t s = 0; s < segments; ++s) {
    std::vector<float> beta(static_cast<std::size_t>(key_len));
    for (float& value : beta) value = std::exp(normal(rng));
    const auto death = dma_death_indices(std::span<const float>(beta), window);
    deaths.insert(deaths.end(), death.begin(), death.end());
  }
  return deaths;
}

struct Shape {
  std::int64_t batch, q_heads, bias_heads, q_len, key_len, window;
};

// Every counter by brute force: for each tile, the (row, key) pairs the mask keeps.
void expect_brute_force_counts(const Shape& c, const std::int32_t* death) {
  const KernelCounters counted = count_kernel_work(death, c.batch, c.q_heads, c.bias_heads, c.q_len, c.key_len);
  const std::int64_t q_tiles = (c.q_len + kTileRows - 1) / kTileRows, k_tiles = (c.key_len + kTileKeys - 1) / kTileKeys;
  ASSERT_EQ(counted.q_tiles, q_tiles);
  ASSERT_EQ(counted.k_tiles, k_tiles);
  const std::int64_t offset = c.key_len - c.q_len;
  for (std::int64_t seg = 0; seg < c.batch * c.bias_heads; ++seg) {
    const std::int32_t* d = death ? death + seg * c.key_len : nullptr;
    for (std::int64_t qt = 0; qt < q_tiles; ++qt) {
      std::vector<std::int32_t> kept(static_cast<std::size_t>(k_tiles), 0);
      std::int32_t keys = 0;
      for (std::int64_t j = 0; j < c.key_len; ++j) {
        bool gathered = false;
        for (std::int64_t r = qt * kTileRows; r < std::min(c.q_len, (qt + 1) * kTileRows); ++r) {
          const std::int64_t p = offset + r;
          if (j <= p && (!d || p < d[j])) {
            ++kept[static_cast<std::size_t>(j / kTileKeys)];
            gathered = true;
          }
        }
        keys += gathered;
      }
      for (std::int64_t kt = 0; kt < k_tiles; ++kt)
        ASSERT_EQ(counted.kept_entries[static_cast<std::size_t>((seg * q_tiles + qt) * k_tiles + kt)],
                  kept[static_cast<std::size_t>(kt)])
            << "segment " << seg << " tile (" << qt << ", " << kt << ")";
      const std::int64_t b = seg / c.bias_heads, hb = seg % c.bias_heads, group = c.q_heads / c.bias_heads;
      const std::int64_t rows = std::min(c.q_len, (qt + 1) * kTileRows) - qt * kTileRows;
      for (std::int64_t h = hb * group; h < (hb + 1) * group; ++h) {
        const auto slot = static_cast<std::size_t>((b * c.q_heads + h) * q_tiles + qt);
        ASSERT_EQ(counted.keys_gathered[slot], keys) << "head " << h << " tile " << qt;
        ASSERT_EQ(counted.executed_pairs[slot], rows * keys) << "head " << h << " tile " << qt;
      }
    }
  }
}

TEST(KernelCounters, CpuTwinEqualsABruteForceCountOfEveryTile) {
  const Shape shapes[] = {
      {1, 2, 1, 300, 300, 40},     // GQA 2, L not a multiple of 64
      {2, 4, 4, 200, 200, 17},     // MHA bias, batch 2
      {1, 2, 1, 100, 450, 90},     // Lq < Lk: bottom-right aligned
      {1, 1, 1, 129, 129, 1},      // w = 1
      {1, 2, 1, 150, 150, 1000},   // w ≥ L: every causal key kept
  };
  std::uint32_t seed = 11;
  for (const Shape& c : shapes) {
    SCOPED_TRACE(testing::Message() << "Lq " << c.q_len << " Lk " << c.key_len << " w " << c.window);
    const auto death = random_deaths(c.batch * c.bias_heads, c.key_len, c.window, seed++);
    expect_brute_force_counts(c, death.data());
  }
  expect_brute_force_counts(Shape{1, 2, 1, 130, 200, 0}, nullptr);  // dense
}

TEST(KernelCounters, TileMapFromCountersIsBuildTileMapOfTheSameMask) {
  for (const Shape& c : {Shape{1, 2, 1, 700, 700, 64}, Shape{1, 2, 1, 333, 1000, 200}, Shape{1, 1, 1, 64, 64, 64}}) {
    const auto death = random_deaths(1, c.key_len, c.window, 5);
    const KernelCounters counted = count_kernel_work(death.data(), 1, c.q_heads, 1, c.q_len, c.key_len);
    const TileMap expected = build_tile_map(death.data(), c.key_len, c.q_len, TileShape{kTileRows, kTileKeys});
    const TileMap map = tile_map_from_counters(counted, 0);
    EXPECT_EQ(map.status, expected.status);
    EXPECT_EQ(map.skipped, expected.skipped);
    EXPECT_EQ(map.partial, expected.partial);
    EXPECT_EQ(map.full, expected.full);
    EXPECT_EQ(map.kept_entries, expected.kept_entries);
    EXPECT_EQ(map.causal_entries, expected.causal_entries);
    EXPECT_EQ(map.causal_tiles, expected.causal_tiles);
  }
}

TEST(KernelCounters, GatheredWorkFromCountersIsKernelGatheredWork) {
  const std::int64_t L = 1000;
  const auto death = random_deaths(1, L, 100, 9);
  const KernelCounters counted = count_kernel_work(death.data(), 1, 2, 1, L, L);
  const GatheredWork expected = kernel_gathered_work(death.data(), L);
  for (std::int64_t head = 0; head < 2; ++head) {
    const GatheredWork work = gathered_work_from_counters(counted, head);
    EXPECT_EQ(work.tile_rows, expected.tile_rows);
    EXPECT_EQ(work.keys_per_tile, expected.keys_per_tile);
    EXPECT_EQ(work.executed_pairs, expected.executed_pairs);
    EXPECT_EQ(work.dense_pairs, expected.dense_pairs);
    EXPECT_EQ(work.kept_pairs, expected.kept_pairs);
  }
}

TEST(KernelCounters, BadShapesAndOutOfRangeHeadsAreRefused) {
  const std::vector<std::int32_t> death(64, 64);
  EXPECT_THROW(count_kernel_work(death.data(), 1, 3, 2, 64, 64), Error);  // 3 heads over 2 bias heads
  EXPECT_THROW(count_kernel_work(death.data(), 1, 1, 1, 65, 64), Error);  // Lq > Lk
  const KernelCounters counted = count_kernel_work(death.data(), 1, 1, 1, 64, 64);
  EXPECT_THROW(tile_map_from_counters(counted, 1), Error);
  EXPECT_THROW(gathered_work_from_counters(counted, -1), Error);
}

}  // namespace
}  // namespace dmascope
