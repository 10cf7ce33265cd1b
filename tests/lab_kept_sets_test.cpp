// Every strategy's kept set, chunk by chunk, equals a brute-force construction from its definition
// (core/lab/strategy.h), ties included; the per-tile gather holds exactly the chunk's rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "core/base/error.h"
#include "core/lab/dam.h"
#include "core/lab/kept_rows.h"
#include "core/lab/strategy_death.h"
#include "tests/lab_test_heads.h"
#include "tests/support/dma_dense_reference.h"

namespace dmascope {
namespace {

using testing::OwnedLabHead;

// The w best of `candidates` by score (larger first, ties to the lower index), ascending.
std::vector<std::int32_t> brute_top(std::vector<std::int32_t> candidates, const std::vector<double>& score,
                                    std::int64_t w) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](std::int32_t a, std::int32_t b) { return score[static_cast<std::size_t>(a)] > score[static_cast<std::size_t>(b)]; });
  if (static_cast<std::int64_t>(candidates.size()) > w) candidates.resize(static_cast<std::size_t>(w));
  std::sort(candidates.begin(), candidates.end());
  return candidates;
}

std::vector<std::int32_t> prefix(std::int64_t begin, std::int64_t end) {
  std::vector<std::int32_t> keys;
  for (std::int64_t j = begin; j < end; ++j) keys.push_back(static_cast<std::int32_t>(j));
  return keys;
}

std::vector<std::int32_t> brute_row(const LabHead& head, Strategy strategy, std::int64_t i) {
  const std::int64_t w = head.window, d = head.head_dim;
  switch (strategy) {
    case Strategy::Dma:
    case Strategy::Shared: {
      const auto keep = dma_dense_keep_reference(head.beta, head.length, w,
                                                 strategy == Strategy::Dma ? MaskVariant::PerRowTopK
                                                                           : MaskVariant::SharedTopK);
      std::vector<std::int32_t> keys;
      for (std::int64_t j = 0; j <= i; ++j)
        if (keep[static_cast<std::size_t>(i * head.length + j)]) keys.push_back(static_cast<std::int32_t>(j));
      return keys;
    }
    case Strategy::Swa: return prefix(std::max<std::int64_t>(0, i - w + 1), i + 1);
    case Strategy::Sinks: {
      if (i + 1 <= w) return prefix(0, i + 1);
      auto keys = prefix(0, std::min<std::int64_t>(4, w - 1));
      const auto recent = prefix(i - (w - static_cast<std::int64_t>(keys.size())) + 1, i + 1);
      keys.insert(keys.end(), recent.begin(), recent.end());
      return keys;
    }
    case Strategy::Oracle: {
      std::vector<double> score(static_cast<std::size_t>(i + 1));
      for (std::int64_t j = 0; j <= i; ++j) {
        double qk = 0;
        for (std::int64_t c = 0; c < d; ++c)
          qk += static_cast<double>(head.query[static_cast<std::size_t>(i * d + c)]) * head.key[static_cast<std::size_t>(j * d + c)];
        score[static_cast<std::size_t>(j)] = qk * head.scale + head.beta[static_cast<std::size_t>(j)];
      }
      return brute_top(prefix(0, i + 1), score, w);
    }
    case Strategy::Nsa: {
      if (i + 1 <= w) return prefix(0, i + 1);
      const std::int64_t block = std::min<std::int64_t>(64, w), local = i / block;
      std::vector<double> score(static_cast<std::size_t>(local));
      // Block means rounded to fp32 and the fp32 dot in index order, as the product computes them: a block side that
      // is not a power of two makes the means inexact, and the selection must break the same ties.
      for (std::int64_t b = 0; b < local; ++b) {
        float s = 0;
        for (std::int64_t c = 0; c < d; ++c) {
          double sum = 0;
          for (std::int64_t j = b * block; j < (b + 1) * block; ++j) sum += head.key[static_cast<std::size_t>(j * d + c)];
          s += head.query[static_cast<std::size_t>(i * d + c)] * static_cast<float>(sum / static_cast<double>(block));
        }
        score[static_cast<std::size_t>(b)] = s * head.scale;
      }
      std::vector<std::int32_t> keys;
      for (std::int32_t b : brute_top(prefix(0, local), score, w / block)) {
        const auto block_keys = prefix(b * block, (b + 1) * block);
        keys.insert(keys.end(), block_keys.begin(), block_keys.end());
      }
      const auto own = prefix(local * block, i + 1);
      keys.insert(keys.end(), own.begin(), own.end());
      return keys;
    }
    case Strategy::Dam: {
      std::vector<std::int32_t> keys;
      for (std::int64_t j = 0; j <= i; ++j)
        if (head.dam->keeps(i, j)) keys.push_back(static_cast<std::int32_t>(j));
      return keys;
    }
  }
  return {};
}

// A DAM mask with a band, a sink column and a scattered corner, calibrated from synthetic maps.
DamHeadMask synthetic_dam(std::int64_t capture_length) {
  DamCalibration calibration(1, 1, capture_length);
  std::vector<float> map(static_cast<std::size_t>(capture_length * capture_length), 0.0f);
  for (std::int64_t i = 0; i < capture_length; ++i) {
    map[static_cast<std::size_t>(i * capture_length)] += 0.4f;       // sink column 0
    map[static_cast<std::size_t>(i * capture_length + i)] += 0.3f;   // diagonal 0
    if (i >= 3) map[static_cast<std::size_t>(i * capture_length + i - 3)] += 0.2f;  // diagonal 3
    if (i % 5 == 0 && i >= 7) map[static_cast<std::size_t>(i * capture_length + 7)] += 0.1f;  // sparse, unmatched
  }
  calibration.add_map(0, 0, map, capture_length);
  calibration.end_sequence(capture_length);
  return calibration.finish(DamSettings{.capture_length = capture_length})[0];
}

struct Shape {
  std::int64_t length, head_dim, window, chunk;
};

class KeptSetsMatchBruteForce : public ::testing::TestWithParam<Shape> {};

TEST_P(KeptSetsMatchBruteForce, EveryStrategyEveryRow) {
  const Shape s = GetParam();
  OwnedLabHead owned;
  testing::make_random_head(owned, s.length, s.head_dim, s.window, static_cast<std::uint32_t>(s.length + s.window));
  const DamHeadMask dam = synthetic_dam(40);
  owned.head.dam = &dam;
  const KeptSetBuilder builder(owned.head);
  for (Strategy strategy : kAllStrategies) {
    for (std::int64_t r0 = 0; r0 < s.length; r0 += s.chunk) {
      const std::int64_t r1 = std::min(s.length, r0 + s.chunk);
      const KeptRows kept = builder.rows(strategy, r0, r1);
      ASSERT_EQ(kept.rows(), r1 - r0);
      for (std::int64_t i = r0; i < r1; ++i) {
        const auto row = kept.row(i);
        const std::vector<std::int32_t> got(row.begin(), row.end());
        ASSERT_EQ(got, brute_row(owned.head, strategy, i)) << strategy_name(strategy) << " row " << i;
        if (strategy != Strategy::Dam) {
          const std::int64_t local_block = strategy == Strategy::Nsa ? std::min<std::int64_t>(64, s.window) : 0;
          EXPECT_LE(static_cast<std::int64_t>(got.size()), s.window + local_block)
              << strategy_name(strategy) << " row " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LabShapes, KeptSetsMatchBruteForce,
                         ::testing::Values(Shape{300, 8, 128, 64}, Shape{200, 4, 48, 37}, Shape{150, 8, 5, 64},
                                           Shape{90, 8, 3, 16}, Shape{64, 4, 200, 64}));

TEST(TileGather, HoldsTheChunksKeysAndOneBitPerKeptEntry) {
  OwnedLabHead owned;
  testing::make_random_head(owned, 256, 8, 40, 3);
  const KeptSetBuilder builder(owned.head);
  const KeptRows kept = builder.rows(Strategy::Oracle, 128, 192);
  const TileGather gather = tile_gather(kept);
  std::set<std::int32_t> union_keys(kept.keys.begin(), kept.keys.end());
  EXPECT_EQ(std::vector<std::int32_t>(union_keys.begin(), union_keys.end()), gather.keys);
  for (std::int64_t i = 128; i < 192; ++i) {
    const auto row = kept.row(i);
    const std::set<std::int32_t> row_keys(row.begin(), row.end());
    for (std::size_t slot = 0; slot < gather.keys.size(); ++slot)
      EXPECT_EQ(gather.keeps(i, static_cast<std::int64_t>(slot)), row_keys.count(gather.keys[slot]) == 1);
  }
}

// swa's and sinks' death indices (what the GPU lab runs them with on the DMA kernels) keep exactly the brute-force
// rows, at budgets below, at and above the sinks, and at w ≥ L.
TEST(PositionalDeathIndices, KeepTheBruteForceRows) {
  for (const std::int64_t length : {1, 7, 100}) {
    for (const std::int64_t w : {1, 2, 4, 5, 6, 17, 100, 130}) {
      OwnedLabHead owned;
      testing::make_random_head(owned, length, 4, w, 5);
      for (const Strategy strategy : {Strategy::Swa, Strategy::Sinks}) {
        const auto death = positional_death_indices(strategy, length, w);
        ASSERT_EQ(static_cast<std::int64_t>(death.size()), length);
        for (std::int64_t i = 0; i < length; ++i) {
          std::vector<std::int32_t> kept;
          for (std::int64_t j = 0; j <= i; ++j)
            if (i < death[static_cast<std::size_t>(j)]) kept.push_back(static_cast<std::int32_t>(j));
          ASSERT_EQ(kept, brute_row(owned.head, strategy, i))
              << strategy_name(strategy) << " L " << length << " w " << w << " row " << i;
        }
      }
    }
  }
  EXPECT_TRUE(strategy_has_death_indices(Strategy::Sinks));
  EXPECT_FALSE(strategy_has_death_indices(Strategy::Oracle));
  EXPECT_THROW(positional_death_indices(Strategy::Dma, 10, 3), Error);
  EXPECT_THROW(positional_death_indices(Strategy::Swa, 10, 0), Error);
}

TEST(KeptSets, DamWithoutACalibratedMaskIsAnError) {
  OwnedLabHead owned;
  testing::make_random_head(owned, 32, 4, 8, 1);
  const KeptSetBuilder builder(owned.head);
  EXPECT_THROW(builder.rows(Strategy::Dam, 0, 8), Error);
}

TEST(StrategyNames, RoundTripAndListErrorsNameTheCulprit) {
  EXPECT_EQ(all_strategy_names(), "dma,shared,swa,sinks,oracle,nsa,dam");
  for (Strategy strategy : kAllStrategies) EXPECT_EQ(strategy_from_name(strategy_name(strategy)), strategy);
  EXPECT_EQ(parse_strategy_list("swa,dma"), (std::vector<Strategy>{Strategy::Swa, Strategy::Dma}));
  try {
    parse_strategy_list("dma,bogus");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("bogus"), std::string::npos);
  }
  EXPECT_THROW(parse_strategy_list("dma,dma"), Error);
  EXPECT_THROW(parse_strategy_list(""), Error);
  EXPECT_THROW(parse_strategy_list("dma,"), Error);
}

}  // namespace
}  // namespace dmascope
