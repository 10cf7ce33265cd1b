// core/model/forward_agreement.h and kept_sets_of_death against brute force: the kept sets and the two masks'
// agreement enumerated row by row and key by key on random β with many ties, the logits' error and top-1 flips on
// logits built by hand, and the errors for what cannot be compared.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "core/attention/attention_kept_sets.h"
#include "core/base/error.h"
#include "core/mask/cut_ties.h"
#include "core/mask/dma_mask.h"
#include "core/model/forward_agreement.h"

namespace dmascope {
namespace {

// β drawn from a few values, so that cuts fall on ties; a fresh seed each run, printed on failure.
std::vector<float> tied_beta(std::int64_t length, int values, std::mt19937& rng) {
  std::uniform_int_distribution<int> value(0, values - 1);
  std::vector<float> beta(static_cast<std::size_t>(length));
  for (float& b : beta) b = 0.25f * static_cast<float>(value(rng));
  return beta;
}

std::set<std::int32_t> kept_row(std::span<const std::int32_t> death, std::int64_t row) {
  std::set<std::int32_t> kept;
  for (std::int64_t j = 0; j <= row; ++j)
    if (dma_keeps(death, row, j)) kept.insert(static_cast<std::int32_t>(j));
  return kept;
}

TEST(ForwardAgreement, KeptSetsOfDeathListEveryRowsKeptKeysInOrder) {
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  for (const auto& [length, window] : {std::pair{1, 1}, {37, 5}, {200, 16}, {200, 200}, {301, 64}}) {
    const auto beta = tied_beta(length, 7, rng);
    const auto death = dma_death_indices(beta, window);
    const KeptKeySets sets = kept_sets_of_death(death);
    ASSERT_EQ(sets.rows(), length);
    for (std::int64_t i = 0; i < length; ++i) {
      const auto row = sets.row(i);
      const std::set<std::int32_t> expected = kept_row(death, i);
      ASSERT_EQ(std::vector<std::int32_t>(row.begin(), row.end()),
                std::vector<std::int32_t>(expected.begin(), expected.end()))
          << "L " << length << " w " << window << " row " << i;
    }
  }
}

TEST(ForwardAgreement, LayerKeptSetsFollowEachQueryHeadsBiasHead) {
  AttentionProblem problem;
  problem.q_heads = 4;
  problem.kv_heads = 2;
  problem.bias_heads = 2;
  problem.q_len = problem.key_len = 3;
  const std::vector<std::int32_t> death = {3, 1, 3,   // bias head 0: key 1 is never kept
                                           1, 3, 3};  // bias head 1: key 0 only on its own row
  const auto heads = kept_sets_of_layer_death(death, problem);
  ASSERT_EQ(heads.size(), 4u);
  EXPECT_EQ(heads[0].keys, (std::vector<std::int32_t>{0, 0, 0, 2}));  // rows {0}, {0}, {0, 2}
  EXPECT_EQ(heads[0].offsets, (std::vector<std::int64_t>{0, 1, 2, 4}));
  EXPECT_EQ(heads[1].keys, heads[0].keys);
  EXPECT_EQ(heads[2].keys, (std::vector<std::int32_t>{0, 1, 1, 2}));  // rows {0}, {1}, {1, 2}
  EXPECT_EQ(heads[3].keys, heads[2].keys);
  EXPECT_THROW(kept_sets_of_layer_death(std::span(death).first(5), problem), Error);
}

TEST(ForwardAgreement, MaskAgreementCountsWhatARowByRowComparisonFinds) {
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::int64_t differing_seen = 0, tied_seen = 0;
  for (const auto& [length, window] : {std::pair{50, 4}, {257, 16}, {257, 64}, {64, 64}}) {
    const auto reference_beta = tied_beta(length, 9, rng);
    auto test_beta = reference_beta;
    std::uniform_int_distribution<std::int64_t> key(0, length - 1);
    for (int n = 0; n < 6; ++n) test_beta[static_cast<std::size_t>(key(rng))] += 0.25f;  // a few keys move
    const auto a = dma_death_indices(test_beta, window), b = dma_death_indices(reference_beta, window);
    const CutTies ties_a = dma_cut_ties(test_beta, window), ties_b = dma_cut_ties(reference_beta, window);
    const MaskAgreement agreement = mask_agreement(a, b, ties_a, ties_b);

    std::int64_t rows_differing = 0, on_tie = 0, kept = 0, entries_differing = 0;
    for (std::int64_t i = 0; i < length; ++i) {
      const auto row_a = kept_row(a, i), row_b = kept_row(b, i);
      kept += static_cast<std::int64_t>(row_b.size());
      for (std::int32_t j : row_a) entries_differing += !row_b.contains(j);
      for (std::int32_t j : row_b) entries_differing += !row_a.contains(j);
      if (row_a == row_b) continue;
      ++rows_differing;
      on_tie += ties_a.row_is_tied(i) || ties_b.row_is_tied(i);
    }
    EXPECT_EQ(agreement.rows, length);
    EXPECT_EQ(agreement.rows_differing, rows_differing) << "L " << length << " w " << window;
    EXPECT_EQ(agreement.differing_on_tie, on_tie) << "L " << length << " w " << window;
    EXPECT_DOUBLE_EQ(agreement.kept_share,
                     1.0 - 0.5 * static_cast<double>(entries_differing) / static_cast<double>(kept));
    differing_seen += rows_differing;
    tied_seen += on_tie;
    const MaskAgreement same = mask_agreement(b, b, ties_b, ties_b);
    EXPECT_EQ(same.rows_differing, 0);
    EXPECT_EQ(same.kept_share, 1.0);
  }
  EXPECT_GT(differing_seen, 0) << "no run moved a kept key: the comparison was not exercised";
  EXPECT_GT(tied_seen, 0) << "no differing row cut on a tie: the tie count was not exercised";
  EXPECT_THROW(mask_agreement(std::vector<std::int32_t>{1, 2}, std::vector<std::int32_t>{1}, {}, {}), Error);
}

Tensor logits_of(std::vector<float> values, std::int64_t rows) {
  return Tensor::from_vector(values, {1, rows, static_cast<std::int64_t>(values.size()) / rows});
}

TEST(ForwardAgreement, LogitsErrorAndTopOneFlipsAsComputedByHand) {
  // Two rows of three logits; row 1's top-1 moves from token 0 to token 2.
  const Tensor reference = logits_of({3, 1, 0, 2, 0, 1.5f}, 2);
  const Tensor test = logits_of({3, 1, 0, 2, 0, 2.5f}, 2);
  EXPECT_NEAR(logits_relative_error(test, reference), 1.0 / std::sqrt(9 + 1 + 4 + 2.25), 1e-12);
  const TopOneAgreement agreement = top_one_agreement(test, reference);
  EXPECT_EQ(agreement.rows, 2);
  ASSERT_EQ(agreement.flips.size(), 1u);
  const TopOneFlip& flip = agreement.flips[0];
  EXPECT_EQ(flip.row, 1);
  EXPECT_EQ(flip.token, 2);
  EXPECT_EQ(flip.reference_token, 0);
  EXPECT_DOUBLE_EQ(flip.reference_margin, 0.5);
  EXPECT_NEAR(flip.rms_difference, std::sqrt(1.0 / 3.0), 1e-12);
  EXPECT_DOUBLE_EQ(agreement.share(), 0.5);
  EXPECT_EQ(describe_flips(agreement), "1 flip: row 1 margin 0.5 = 0.87 RMS");
  EXPECT_EQ(logits_relative_error(reference, reference), 0.0);
  EXPECT_TRUE(top_one_agreement(reference, reference).flips.empty());
}

TEST(ForwardAgreement, RowErrorsFindTheRowsThatMakeTheError) {
  // Eight rows of two logits, all (3, 4) (norm 5); rows 5 and 6 off by (0, 1) and (0, 5), the rest exact.
  std::vector<float> reference_values, test_values;
  for (int r = 0; r < 8; ++r) {
    reference_values.insert(reference_values.end(), {3, 4});
    test_values.insert(test_values.end(), {3, r == 5 ? 5.0f : r == 6 ? 9.0f : 4.0f});
  }
  const RowErrors rows = row_relative_errors(logits_of(test_values, 8), logits_of(reference_values, 8));
  EXPECT_EQ(rows.median, 0.0);
  EXPECT_DOUBLE_EQ(rows.p99, 0.2);  // the 99th percentile of 8 rows is the second largest (rank 6 of 0..7)
  EXPECT_DOUBLE_EQ(rows.worst, 1.0);
  EXPECT_EQ(rows.worst_row, 6);
  ASSERT_EQ(rows.by_quarter.size(), 4u);
  EXPECT_EQ(rows.by_quarter[0], 0.0);
  EXPECT_EQ(rows.by_quarter[1], 0.0);
  EXPECT_DOUBLE_EQ(rows.by_quarter[2], std::sqrt(1.0 / 50.0));  // rows 4 and 5
  EXPECT_EQ(rows.by_quarter[3], std::sqrt(25.0 / 50.0));          // rows 6 and 7
  test_values[1] = NAN;
  EXPECT_EQ(row_relative_errors(logits_of(test_values, 8), logits_of(reference_values, 8)).worst, INFINITY);
  EXPECT_TRUE(row_relative_errors(logits_of({1, 2}, 1), logits_of({1, 2}, 1)).by_quarter.empty());
}

TEST(ForwardAgreement, NonFiniteLogitsNeverReadAsAgreementAndShapesMustMatch) {
  const Tensor reference = logits_of({1, 2, 3, 4}, 2);
  EXPECT_EQ(logits_relative_error(logits_of({1, 2, NAN, 4}, 2), reference), INFINITY);
  EXPECT_EQ(logits_relative_error(logits_of({1, 2, 3, INFINITY}, 2), reference), INFINITY);
  EXPECT_THROW(logits_relative_error(logits_of({1, 2, 3, 4, 5, 6}, 2), reference), Error);
  EXPECT_THROW(top_one_agreement(logits_of({1, 2}, 1), reference), Error);
}

}  // namespace
}  // namespace dmascope
