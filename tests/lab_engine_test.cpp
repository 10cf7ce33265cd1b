// The lab's engine (engine/lab/lab_job.h) on a real forward of the bundled doge-tiny-random: run_lab's rows are
// core's metrics of each (layer, head, strategy) in order, at the lab's own window; the budget curves are the mean
// recall at each w; the A/B differences are B − A of matched rows; the kept-set diff counts what a brute-force set
// comparison counts.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>

#include "core/base/error.h"
#include "core/lab/kept_rows.h"
#include "core/lab/lab_head.h"
#include "engine/lab/lab_job.h"
#include "tests/lab_test_heads.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

// run_lab and head_metrics sum the same rows, possibly merged in another thread order.
constexpr double kSameSumsTolerance = 1e-12;
constexpr std::int64_t kLength = 96;

struct TinyForward {
  DogeModel model;
  ForwardResult forward;
};

const TinyForward& tiny_forward() {
  static const TinyForward tiny = [] {
    TinyForward t{DogeModel::load(testing::source_dir() / "assets/models/doge-tiny-random"), {}};
    std::mt19937 rng(5);
    std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(t.model.config.vocab_size - 1));
    std::vector<std::int32_t> ids(kLength);
    for (auto& id : ids) id = token(rng);
    ForwardOptions options;
    options.capture = true;
    t.forward = doge_forward(t.model, ids, options);
    return t;
  }();
  return tiny;
}

LabSettings settings_of(std::vector<Strategy> strategies, std::int64_t window) {
  LabSettings settings;
  settings.strategies = std::move(strategies);
  settings.window = window;
  settings.tiles = {16, 16};
  return settings;
}

TEST(RunLab, RowsAreCoresMetricsOfEachLayerHeadAndStrategyInOrder) {
  const TinyForward& tiny = tiny_forward();
  const std::vector<Strategy> strategies = {Strategy::Swa, Strategy::Dma, Strategy::Oracle};
  const LabSettings settings = settings_of(strategies, 8);
  const LabResult result = run_lab(tiny.model, tiny.forward, settings);
  EXPECT_EQ(result.window, 8);
  EXPECT_EQ(result.length, kLength);
  const std::int64_t heads = tiny.model.config.num_attention_heads;
  ASSERT_EQ(result.rows.size(), static_cast<std::size_t>(2 * heads * 3));
  LabMetricOptions options;
  options.tiles = settings.tiles;
  std::size_t r = 0;
  for (std::int64_t layer = 0; layer < 2; ++layer) {
    const LabLayer lab_layer(tiny.forward.layers[static_cast<std::size_t>(layer)], 8);
    for (std::int64_t head = 0; head < heads; ++head) {
      const auto expected = head_metrics(lab_layer.head(head), strategies, options);
      for (std::size_t s = 0; s < strategies.size(); ++s, ++r) {
        const LabRow& row = result.rows[r];
        EXPECT_EQ(row.layer, layer);
        EXPECT_EQ(row.head, head);
        EXPECT_EQ(row.metrics.strategy, strategies[s]);
        EXPECT_EQ(row.metrics.window, 8);
        EXPECT_EQ(row.metrics.kept_entries, expected[s].kept_entries);
        EXPECT_NEAR(row.metrics.mass_recall_mean, expected[s].mass_recall_mean, kSameSumsTolerance);
        EXPECT_NEAR(row.metrics.output_rel_error, expected[s].output_rel_error, kSameSumsTolerance);
      }
    }
  }
  // swa at w = 8: Σ min(i + 1, 8) kept of Σ (i + 1) causal entries, whatever the head
  std::int64_t kept = 0, causal = 0;
  for (std::int64_t i = 0; i < kLength; ++i) kept += std::min<std::int64_t>(i + 1, 8), causal += i + 1;
  EXPECT_DOUBLE_EQ(result.rows[0].metrics.token_density, static_cast<double>(kept) / static_cast<double>(causal));
}

TEST(RunLab, LayersAreChosenSortedAndCheckedAndWindowZeroIsTheForwards) {
  const TinyForward& tiny = tiny_forward();
  LabSettings settings = settings_of({Strategy::Dma}, 0);
  settings.layers = {1, 1};
  const LabResult result = run_lab(tiny.model, tiny.forward, settings);
  EXPECT_EQ(result.layers, std::vector<std::int64_t>{1});
  EXPECT_EQ(result.window, tiny.forward.window);
  for (const LabRow& row : result.rows) EXPECT_EQ(row.layer, 1);
  settings.layers = {2};
  EXPECT_THROW(run_lab(tiny.model, tiny.forward, settings), Error);
  settings.layers = {};
  settings.strategies = {};
  EXPECT_THROW(run_lab(tiny.model, tiny.forward, settings), Error);
}

TEST(BudgetCurves, HoldTheMeanRecallAtEachWindowAndReachOneAtTheLength) {
  const TinyForward& tiny = tiny_forward();
  const std::vector<std::int64_t> windows = {4, 16, kLength};
  const LabSettings settings = settings_of({Strategy::Dma, Strategy::Swa, Strategy::Oracle, Strategy::Dam}, 0);
  const BudgetCurves curves = budget_curves(tiny.forward, windows, settings);
  ASSERT_EQ(curves.strategies, (std::vector<Strategy>{Strategy::Dma, Strategy::Swa, Strategy::Oracle}));  // no dam
  ASSERT_EQ(curves.layers, (std::vector<std::int64_t>{0, 1}));
  const std::int64_t heads = curves.heads;
  ASSERT_EQ(curves.recall.size(), static_cast<std::size_t>(2 * heads * 3 * 3));
  LabMetricOptions options;
  options.tiles = settings.tiles;
  for (std::size_t l = 0; l < 2; ++l)
    for (std::size_t w = 0; w < windows.size(); ++w) {
      const LabLayer lab_layer(tiny.forward.layers[l], windows[w]);
      for (std::int64_t head = 0; head < heads; ++head) {
        const auto expected = head_metrics(lab_layer.head(head), curves.strategies, options);
        for (std::size_t s = 0; s < 3; ++s) {
          EXPECT_NEAR(curves.at(l, head, s, w), expected[s].mass_recall_mean, kSameSumsTolerance);
          if (windows[w] == kLength) {
            EXPECT_NEAR(curves.at(l, head, s, w), 1.0, 1e-6);
          }
        }
        // oracle is the best any w keys per row can do
        EXPECT_GE(curves.at(l, head, 2, w) + 1e-9, curves.at(l, head, 0, w));
        EXPECT_GE(curves.at(l, head, 2, w) + 1e-9, curves.at(l, head, 1, w));
      }
    }
  EXPECT_THROW(budget_curves(tiny.forward, {0}, settings), Error);
}

TEST(LabDiff, IsBMinusAOfMatchedRowsAcrossWindowsAndAcrossStrategies) {
  const TinyForward& tiny = tiny_forward();
  const LabResult narrow = run_lab(tiny.model, tiny.forward, settings_of({Strategy::Dma, Strategy::Swa}, 8));
  const LabResult wide = run_lab(tiny.model, tiny.forward, settings_of({Strategy::Dma, Strategy::Swa}, 24));
  const auto by_window = diff_lab_results(narrow, wide);
  ASSERT_EQ(by_window.size(), narrow.rows.size());
  for (std::size_t r = 0; r < by_window.size(); ++r) {
    const LabDiffRow& d = by_window[r];
    const StrategyMetrics &a = narrow.rows[r].metrics, &b = wide.rows[r].metrics;
    EXPECT_EQ(d.strategy_a, a.strategy);
    EXPECT_EQ(d.strategy_b, a.strategy);  // same strategy, two windows
    EXPECT_DOUBLE_EQ(d.delta_token_density, b.token_density - a.token_density);
    EXPECT_DOUBLE_EQ(d.delta_recall_mean, b.mass_recall_mean - a.mass_recall_mean);
    EXPECT_GT(d.delta_token_density, 0.0);  // a wider window keeps more
  }
  const LabResult dma = run_lab(tiny.model, tiny.forward, settings_of({Strategy::Dma}, 8));
  const LabResult swa = run_lab(tiny.model, tiny.forward, settings_of({Strategy::Swa}, 8));
  const auto by_strategy = diff_lab_results(dma, swa);
  ASSERT_EQ(by_strategy.size(), dma.rows.size());
  for (std::size_t r = 0; r < by_strategy.size(); ++r) {
    EXPECT_EQ(by_strategy[r].strategy_a, Strategy::Dma);
    EXPECT_EQ(by_strategy[r].strategy_b, Strategy::Swa);
    EXPECT_DOUBLE_EQ(by_strategy[r].delta_recall_mean,
                     swa.rows[r].metrics.mass_recall_mean - dma.rows[r].metrics.mass_recall_mean);
    EXPECT_DOUBLE_EQ(by_strategy[r].delta_output_rel_error,
                     swa.rows[r].metrics.output_rel_error - dma.rows[r].metrics.output_rel_error);
  }
}

TEST(KeptSetDiff, CountsWhatABruteForceSetComparisonCounts) {
  testing::OwnedLabHead a, b;
  testing::make_random_head(a, 150, 8, 20, 1);
  testing::make_random_head(b, 150, 8, 20, 2);
  for (const auto& [strategy_a, strategy_b] :
       std::vector<std::pair<Strategy, Strategy>>{{Strategy::Dma, Strategy::Swa}, {Strategy::Oracle, Strategy::Dma}}) {
    const KeptSetDiff diff = diff_kept_sets(a.head, strategy_a, b.head, strategy_b);
    const KeptRows rows_a = KeptSetBuilder(a.head).rows(strategy_a, 0, 150);
    const KeptRows rows_b = KeptSetBuilder(b.head).rows(strategy_b, 0, 150);
    std::int64_t gained = 0, lost = 0, common = 0;
    for (std::int64_t i = 0; i < 150; ++i) {
      const std::set<std::int32_t> x(rows_a.row(i).begin(), rows_a.row(i).end()),
          y(rows_b.row(i).begin(), rows_b.row(i).end());
      for (std::int32_t j : x) (y.count(j) ? common : lost) += 1;
      for (std::int32_t j : y) gained += x.count(j) == 0;
    }
    EXPECT_EQ(diff.gained, gained);
    EXPECT_EQ(diff.lost, lost);
    EXPECT_EQ(diff.common, common);
    EXPECT_GT(gained + lost, 0);  // the two sets do differ: the counts are not all trivially zero
  }
  EXPECT_EQ(diff_kept_sets(a.head, Strategy::Swa, a.head, Strategy::Swa).gained, 0);
}

}  // namespace
}  // namespace dmascope
