// The lab's metrics against a direct O(L²) fp64 computation of their definitions (core/lab/lab_metrics.h), the
// identities of research/mask-methods.md §5.2, Jaccard, the dropped-mass grid and the dense map.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/lab/dam.h"
#include "core/lab/kept_rows.h"
#include "core/lab/lab_metrics.h"
#include "tests/lab_test_heads.h"

namespace dmascope {
namespace {

using testing::OwnedLabHead;

// fp32 products with fp64 sums against fp64 throughout: a few ulps of fp32 per value, summed over L ≤ 300 rows.
constexpr double kRecallTolerance = 2e-5;
constexpr double kErrorTolerance = 2e-4;  // relative, on the output error (itself a ratio of fp32 outputs)

struct Direct {
  double token_density = 0, tile_density = 0, recall_mean = 0, recall_min = 1e9, rel_error = 0;
  std::vector<double> band;
  double identity_error = 0;  // ‖Σ_S (p/R) v − O_S‖ over all rows: P̃ = P/R on S when the reference has β
};

Direct direct_metrics(const LabHead& head, Strategy strategy, bool with_bias, std::int64_t tile) {
  const std::int64_t L = head.length, d = head.head_dim;
  const KeptSetBuilder builder(head);
  const KeptRows kept = builder.rows(strategy, 0, L);
  Direct out;
  std::vector<double> band_sum(kRecallRowBands, 0.0), band_rows(kRecallRowBands, 0.0);
  double kept_count = 0, causal = 0, err2 = 0, ref2 = 0;
  std::set<std::pair<std::int64_t, std::int64_t>> active;
  std::int64_t causal_tiles = 0;
  for (std::int64_t a = 0; a * tile < L; ++a) causal_tiles += (std::min(L, (a + 1) * tile) - 1) / tile + 1;
  for (std::int64_t i = 0; i < L; ++i) {
    std::vector<double> s(static_cast<std::size_t>(i + 1)), ref(s.size());
    double top = -1e300;
    for (std::int64_t j = 0; j <= i; ++j) {
      double qk = 0;
      for (std::int64_t c = 0; c < d; ++c)
        qk += static_cast<double>(head.query[static_cast<std::size_t>(i * d + c)]) * head.key[static_cast<std::size_t>(j * d + c)];
      qk *= head.scale;
      s[static_cast<std::size_t>(j)] = qk + head.beta[static_cast<std::size_t>(j)];
      ref[static_cast<std::size_t>(j)] = with_bias ? s[static_cast<std::size_t>(j)] : qk;
      top = std::max(top, ref[static_cast<std::size_t>(j)]);
    }
    double z = 0;
    for (double& r : ref) z += (r = std::exp(r - top));
    for (double& r : ref) r /= z;
    const auto row = kept.row(i);
    double recall = 0, zs = 0, top_s = -1e300;
    for (std::int32_t j : row) {
      recall += ref[static_cast<std::size_t>(j)];
      top_s = std::max(top_s, s[static_cast<std::size_t>(j)]);
      active.insert({i / tile, j / tile});
    }
    for (std::int32_t j : row) zs += std::exp(s[static_cast<std::size_t>(j)] - top_s);
    for (std::int64_t c = 0; c < d; ++c) {
      double dense = 0, sparse = 0, renormalised = 0;
      for (std::int64_t j = 0; j <= i; ++j) dense += ref[static_cast<std::size_t>(j)] * head.value[static_cast<std::size_t>(j * d + c)];
      for (std::int32_t j : row) {
        sparse += std::exp(s[static_cast<std::size_t>(j)] - top_s) / zs * head.value[static_cast<std::size_t>(j * d + c)];
        renormalised += ref[static_cast<std::size_t>(j)] / recall * head.value[static_cast<std::size_t>(j * d + c)];
      }
      err2 += (sparse - dense) * (sparse - dense);
      ref2 += dense * dense;
      out.identity_error = std::max(out.identity_error, std::abs(sparse - renormalised));
    }
    kept_count += static_cast<double>(row.size());
    causal += static_cast<double>(i + 1);
    out.recall_mean += recall / static_cast<double>(L);
    out.recall_min = std::min(out.recall_min, recall);
    band_sum[static_cast<std::size_t>(i * kRecallRowBands / L)] += recall;
    band_rows[static_cast<std::size_t>(i * kRecallRowBands / L)] += 1;
  }
  out.token_density = kept_count / causal;
  out.tile_density = static_cast<double>(active.size()) / static_cast<double>(causal_tiles);
  out.rel_error = std::sqrt(err2 / ref2);
  for (std::size_t b = 0; b < band_sum.size(); ++b) out.band.push_back(band_sum[b] / band_rows[b]);
  return out;
}

DamHeadMask band_dam(std::int64_t capture_length) {
  DamCalibration calibration(1, 1, capture_length);
  std::vector<float> map(static_cast<std::size_t>(capture_length * capture_length), 0.0f);
  for (std::int64_t i = 0; i < capture_length; ++i) {
    map[static_cast<std::size_t>(i * capture_length)] += 0.5f;
    map[static_cast<std::size_t>(i * capture_length + i)] += 0.5f;
  }
  calibration.add_map(0, 0, map, capture_length);
  calibration.end_sequence(capture_length);
  return calibration.finish(DamSettings{.capture_length = capture_length})[0];
}

class LabMetricsMatchDirect : public ::testing::TestWithParam<bool> {};

TEST_P(LabMetricsMatchDirect, EveryStrategyAgainstFp64) {
  const bool with_bias = GetParam();
  // w = 64 drops most keys (direct sums over S); w = 220 drops fewer than it keeps (the complement form, with β)
  // d = 8 runs the weighted sums' column tail only, d = 40 one 32-column block and a tail
  for (const std::int64_t head_dim : {8, 40})
  for (const std::int64_t window : {64, 220}) {
  SCOPED_TRACE("w " + std::to_string(window) + " d " + std::to_string(head_dim));
  OwnedLabHead owned;
  testing::make_random_head(owned, 300, head_dim, window, 11);
  const DamHeadMask dam = band_dam(48);
  owned.head.dam = &dam;
  LabMetricOptions options;
  options.dense_with_bias = with_bias;
  options.tiles = {16, 16};
  const std::vector<Strategy> strategies(kAllStrategies.begin(), kAllStrategies.end());
  const auto metrics = head_metrics(owned.head, strategies, options);
  ASSERT_EQ(metrics.size(), strategies.size());
  for (std::size_t s = 0; s < strategies.size(); ++s) {
    SCOPED_TRACE(std::string(strategy_name(strategies[s])));
    const Direct direct = direct_metrics(owned.head, strategies[s], with_bias, 16);
    const StrategyMetrics& m = metrics[s];
    EXPECT_EQ(m.strategy, strategies[s]);
    EXPECT_EQ(m.window, window);
    EXPECT_FALSE(m.non_finite);
    EXPECT_DOUBLE_EQ(m.token_density, direct.token_density);
    EXPECT_NEAR(m.mass_recall_mean, direct.recall_mean, kRecallTolerance);
    EXPECT_NEAR(m.mass_recall_min, direct.recall_min, kRecallTolerance);
    ASSERT_EQ(m.mass_recall_by_band.size(), direct.band.size());
    for (std::size_t b = 0; b < direct.band.size(); ++b)
      EXPECT_NEAR(m.mass_recall_by_band[b], direct.band[b], kRecallTolerance);
    EXPECT_NEAR(m.output_rel_error, direct.rel_error, kErrorTolerance * std::max(1.0, direct.rel_error));
    if (with_bias) {
      EXPECT_LT(direct.identity_error, 1e-9);  // §5.2: the sparse softmax is P/R on S
    }
  }
  }
}

INSTANTIATE_TEST_SUITE_P(DenseReference, LabMetricsMatchDirect, ::testing::Values(true, false));

TEST(LabMetrics, TileDensityCountsActiveTilesOverCausalTiles) {
  OwnedLabHead owned;
  testing::make_random_head(owned, 200, 4, 24, 5);
  LabMetricOptions options;
  options.tiles = {32, 16};
  for (Strategy strategy : {Strategy::Dma, Strategy::Swa, Strategy::Oracle, Strategy::Nsa}) {
    const auto m = head_metrics(owned.head, std::vector<Strategy>{strategy}, options)[0];
    // direct_metrics uses square tiles; recompute here for 32 × 16.
    const KeptRows kept = KeptSetBuilder(owned.head).rows(strategy, 0, 200);
    std::set<std::pair<std::int64_t, std::int64_t>> active;
    for (std::int64_t i = 0; i < 200; ++i)
      for (std::int32_t j : kept.row(i)) active.insert({i / 32, j / 16});
    std::int64_t causal_tiles = 0;
    for (std::int64_t a = 0; a * 32 < 200; ++a) causal_tiles += (std::min<std::int64_t>(200, (a + 1) * 32) - 1) / 16 + 1;
    EXPECT_EQ(m.active_tiles, static_cast<std::int64_t>(active.size())) << strategy_name(strategy);
    EXPECT_EQ(m.causal_tiles, causal_tiles);
    EXPECT_DOUBLE_EQ(m.tile_density, static_cast<double>(active.size()) / static_cast<double>(causal_tiles));
  }
}

TEST(LabMetrics, AWindowAsLongAsTheSequenceKeepsEverythingExactly) {
  OwnedLabHead owned;
  testing::make_random_head(owned, 130, 8, 130, 2);
  const std::vector<Strategy> budgeted = {Strategy::Dma, Strategy::Swa, Strategy::Sinks, Strategy::Oracle,
                                          Strategy::Nsa};
  for (const StrategyMetrics& m : head_metrics(owned.head, budgeted, {})) {
    EXPECT_DOUBLE_EQ(m.token_density, 1.0) << strategy_name(m.strategy);
    EXPECT_DOUBLE_EQ(m.tile_density, 1.0);
    EXPECT_NEAR(m.mass_recall_min, 1.0, 1e-6);
    EXPECT_LT(m.output_rel_error, 1e-6);
  }
}

TEST(LabMetrics, OracleRecallIsTheUpperBoundAtEqualBudget) {
  OwnedLabHead owned;
  testing::make_random_head(owned, 256, 8, 32, 9);
  // nsa's local block may take it past w keys, so it is not bounded by the oracle at w.
  const std::vector<Strategy> strategies = {Strategy::Oracle, Strategy::Dma, Strategy::Shared, Strategy::Swa,
                                            Strategy::Sinks};
  const auto m = head_metrics(owned.head, strategies, {});
  for (std::size_t s = 1; s < m.size(); ++s)
    EXPECT_GE(m[0].mass_recall_mean + 1e-7, m[s].mass_recall_mean) << strategy_name(m[s].strategy);
}

TEST(LabMetrics, ANanInTheInputsIsReportedNotHidden) {
  OwnedLabHead owned;
  testing::make_random_head(owned, 100, 4, 16, 4);
  owned.query[40] = std::nanf("");
  const auto m = head_metrics(owned.head, std::vector<Strategy>{Strategy::Swa}, {})[0];
  EXPECT_TRUE(m.non_finite);
  EXPECT_TRUE(std::isnan(m.mass_recall_mean));
  EXPECT_TRUE(std::isnan(m.output_rel_error));
}

TEST(LabMetrics, ACancelledComputationThrows) {
  OwnedLabHead owned;
  testing::make_random_head(owned, 300, 4, 16, 4);
  std::atomic<bool> cancel{true};
  LabMetricOptions options;
  options.cancel = &cancel;
  EXPECT_THROW(head_metrics(owned.head, std::vector<Strategy>{Strategy::Dma}, options), LabCancelled);
}

TEST(KeptSetJaccard, MatchesPooledIntersectionOverUnion) {
  OwnedLabHead a, b;
  testing::make_random_head(a, 150, 8, 20, 1);
  testing::make_random_head(b, 150, 8, 20, 2);
  const std::vector<LabHead> heads = {a.head, b.head};
  const auto jaccard = kept_set_jaccard(heads, Strategy::Oracle);
  ASSERT_EQ(jaccard.size(), 4u);
  const KeptRows ka = KeptSetBuilder(a.head).rows(Strategy::Oracle, 0, 150);
  const KeptRows kb = KeptSetBuilder(b.head).rows(Strategy::Oracle, 0, 150);
  double common = 0, either = 0;
  for (std::int64_t i = 0; i < 150; ++i) {
    const std::set<std::int32_t> sa(ka.row(i).begin(), ka.row(i).end()), sb(kb.row(i).begin(), kb.row(i).end());
    std::set<std::int32_t> all = sa;
    all.insert(sb.begin(), sb.end());
    either += static_cast<double>(all.size());
    for (std::int32_t j : sa) common += static_cast<double>(sb.count(j));
  }
  EXPECT_DOUBLE_EQ(jaccard[0], 1.0);
  EXPECT_DOUBLE_EQ(jaccard[3], 1.0);
  EXPECT_DOUBLE_EQ(jaccard[1], common / either);
  EXPECT_DOUBLE_EQ(jaccard[2], jaccard[1]);
  EXPECT_LT(jaccard[1], 1.0);
  // swa is the same for every head
  EXPECT_DOUBLE_EQ(kept_set_jaccard(heads, Strategy::Swa)[1], 1.0);
}

TEST(DroppedMassGrid, OnePixelPerCellHoldsTheDroppedDenseProbability) {
  OwnedLabHead owned;
  testing::make_random_head(owned, 40, 4, 6, 8);
  const auto grid = dropped_mass_grid(owned.head, Strategy::Swa, true, MatrixWindow{0, 40, 0, 40}, 40, 40,
                                      ReduceMode::Mean);
  const auto dense = dense_attention_map(owned.head, true);
  for (std::int64_t i = 0; i < 40; ++i)
    for (std::int64_t j = 0; j < 40; ++j) {
      const float got = grid[static_cast<std::size_t>(i * 40 + j)];
      if (j > i) {
        EXPECT_EQ(got, kNoCausalCell);
      } else {
        const float expected = i - j < 6 ? 0.0f : dense[static_cast<std::size_t>(i * 40 + j)];
        EXPECT_NEAR(got, expected, 1e-6) << i << "," << j;
      }
    }
  // Reduced to 10 × 10, max mode: each pixel the largest dropped probability of its 4 × 4 cells.
  const auto coarse = dropped_mass_grid(owned.head, Strategy::Swa, true, MatrixWindow{0, 40, 0, 40}, 10, 10,
                                        ReduceMode::Max);
  for (std::int64_t y = 0; y < 10; ++y)
    for (std::int64_t x = 0; x <= y; ++x) {
      float top = 0;
      for (std::int64_t i = 4 * y; i < 4 * y + 4; ++i)
        for (std::int64_t j = 4 * x; j < std::min(4 * x + 4, i + 1); ++j)
          top = std::max(top, grid[static_cast<std::size_t>(i * 40 + j)]);
      EXPECT_NEAR(coarse[static_cast<std::size_t>(y * 10 + x)], top, 1e-6);
    }
}

TEST(DenseAttentionMap, RowsSumToOneAndAreZeroAboveTheDiagonal) {
  OwnedLabHead owned;
  testing::make_random_head(owned, 70, 4, 6, 8);
  const auto map = dense_attention_map(owned.head, false);
  for (std::int64_t i = 0; i < 70; ++i) {
    double sum = 0;
    for (std::int64_t j = 0; j < 70; ++j) {
      if (j > i) {
        EXPECT_EQ(map[static_cast<std::size_t>(i * 70 + j)], 0.0f);
      }
      sum += map[static_cast<std::size_t>(i * 70 + j)];
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
}

}  // namespace
}  // namespace dmascope
