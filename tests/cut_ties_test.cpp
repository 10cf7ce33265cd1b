// The tie count at the DMA cut against a brute force that needs no notion of "w-th and (w+1)-th": a row's cut is on a
// tie exactly when its kept set under the lower-index tie rule differs from its kept set under the higher-index rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>

#include "core/base/error.h"
#include "core/mask/cut_ties.h"

namespace dmascope {
namespace {

// Rank order of dma_mask.h (β descending, NaN first), ties broken towards the lower or the higher index.
bool ranks_before(float a, std::int64_t ia, float b, std::int64_t ib, bool lower_index_first) {
  const bool nan_a = std::isnan(a), nan_b = std::isnan(b);
  if (nan_a != nan_b) return nan_a;
  if (!nan_a && a != b) return a > b;
  return lower_index_first ? ia < ib : ia > ib;
}

// Kept keys of row p by sorting; O(L² log L) per head, fine at test sizes.
std::set<std::int64_t> kept_by_sorting(const std::vector<float>& beta, std::int64_t window, std::int64_t p,
                                       MaskVariant variant, bool lower_index_first) {
  const std::int64_t candidates = variant == MaskVariant::PerRowTopK ? p + 1 : static_cast<std::int64_t>(beta.size());
  std::vector<std::int64_t> order(static_cast<std::size_t>(candidates));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return ranks_before(beta[a], a, beta[b], b, lower_index_first);
  });
  std::set<std::int64_t> kept;
  for (std::int64_t r = 0; r < std::min(window, candidates); ++r)
    if (order[r] <= p) kept.insert(order[r]);
  return kept;
}

std::vector<std::int32_t> tied_rows_by_brute_force(const std::vector<float>& beta, std::int64_t window,
                                                   MaskVariant variant) {
  std::vector<std::int32_t> rows;
  for (std::int64_t p = 0; p < static_cast<std::int64_t>(beta.size()); ++p)
    if (kept_by_sorting(beta, window, p, variant, true) != kept_by_sorting(beta, window, p, variant, false))
      rows.push_back(static_cast<std::int32_t>(p));
  return rows;
}

// distinct_values > 0: β from that many values (ties everywhere, like layer 0 on repeated tokens or a bf16 β), with a
// few NaNs among them; 0: continuous β (ties only by accident).
std::vector<float> random_beta(std::int64_t length, std::uint32_t seed, int distinct_values) {
  std::mt19937 rng(seed);
  std::vector<float> beta(static_cast<std::size_t>(length));
  if (distinct_values > 0) {
    std::uniform_int_distribution<int> pick(0, distinct_values);
    for (auto& value : beta) {
      const int v = pick(rng);
      value = v == distinct_values ? std::numeric_limits<float>::quiet_NaN() : 0.5f + 0.25f * static_cast<float>(v);
    }
  } else {
    std::lognormal_distribution<float> dist(0.0f, 1.0f);
    for (auto& value : beta) value = dist(rng);
  }
  return beta;
}

TEST(CutTies, MatchTheBruteForceOnEveryRowForBothVariants) {
  for (const std::int64_t length : {1, 7, 40, 97})
    for (const std::int64_t window : {1, 3, 8, 39, 100})
      for (const int distinct : {0, 1, 2, 5, 20})
        for (std::uint32_t seed = 0; seed < 3; ++seed) {
          const auto beta = random_beta(length, seed, distinct);
          for (const MaskVariant variant : {MaskVariant::PerRowTopK, MaskVariant::SharedTopK}) {
            const CutTies ties = dma_cut_ties(beta, window, variant);
            EXPECT_EQ(ties.tied_rows, tied_rows_by_brute_force(beta, window, variant))
                << "L " << length << " w " << window << " distinct " << distinct << " seed " << seed << " "
                << mask_variant_name(variant);
          }
        }
}

TEST(CutTies, RepeatedTokenAtTheCutTiesOnlyTheRowsWhereItDecides) {
  // w = 2. Rows 0, 1 keep their whole prefix. Row 2 ranks 9, 5, 5: the cut falls between the two 5s (tied). Row 3
  // adds 7: 9, 7 | 5, 5, not tied. Row 4 adds 1: not tied.
  const std::vector<float> beta = {5, 9, 5, 7, 1};
  const CutTies ties = dma_cut_ties(beta, 2);
  EXPECT_EQ(ties.tied_rows, std::vector<std::int32_t>({2}));
  EXPECT_TRUE(ties.row_is_tied(2));
  EXPECT_FALSE(ties.row_is_tied(3));
  EXPECT_EQ(ties.count(), 1);
}

TEST(CutTies, PositiveAndNegativeZeroTie) {
  const std::vector<float> beta = {0.0f, -0.0f};
  EXPECT_EQ(dma_cut_ties(beta, 1).count(), 1);
}

TEST(CutTies, LongSequenceRunsWithoutAnLByLBuffer) {
  // 1M keys of 3 values: an L×L method would need 10^12 entries; the sweep is O(L log w).
  const auto beta = random_beta(std::int64_t{1} << 20, 1, 3);
  const CutTies ties = dma_cut_ties(beta, 1024);
  EXPECT_GT(ties.count(), 0);
  EXPECT_LE(ties.count(), (std::int64_t{1} << 20) - 1024);
}

TEST(CutTies, RejectsAnEmptyWindow) {
  const std::vector<float> beta = {1, 2};
  EXPECT_THROW(dma_cut_ties(beta, 0), Error);
}

}  // namespace
}  // namespace dmascope
