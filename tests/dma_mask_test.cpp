#include <gtest/gtest.h>

#include <random>

#include "core/mask/dma_mask.h"
#include "core/base/error.h"
#include "tests/support/dma_dense_reference.h"

namespace dmascope {
namespace {

std::vector<float> random_beta(std::int64_t length, std::uint32_t seed, int distinct_values) {
  std::mt19937 rng(seed);
  std::vector<float> beta(static_cast<std::size_t>(length));
  if (distinct_values > 0) {  // few distinct values: ties everywhere, as with a bf16 bias
    std::uniform_int_distribution<int> pick(0, distinct_values - 1);
    for (auto& value : beta) value = 0.5f + 0.25f * static_cast<float>(pick(rng));
  } else {
    std::lognormal_distribution<float> dist(0.0f, 1.0f);
    for (auto& value : beta) value = dist(rng);
  }
  return beta;
}

struct Case {
  std::int64_t length, window;
  int distinct_values;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << "L" << c.length << " w" << c.window << " distinct" << c.distinct_values;
}

class CompactMaskAgreesWithDenseTopK : public ::testing::TestWithParam<Case> {};

TEST_P(CompactMaskAgreesWithDenseTopK, ExactlyOnEveryRowAndKey) {
  const Case c = GetParam();
  for (std::uint32_t seed = 0; seed < 5; ++seed) {
    const auto beta = random_beta(c.length, seed, c.distinct_values);
    for (MaskVariant variant : {MaskVariant::PerRowTopK, MaskVariant::SharedTopK}) {
      const auto death = dma_death_indices(beta, c.window, variant);
      for (std::int64_t q_len : {c.length, (c.length + 1) / 2, std::int64_t{1}}) {
        const auto dense = dma_dense_keep_reference(beta, q_len, c.window, variant);
        ASSERT_EQ(dma_expand_keep(death, q_len), dense)
            << "L=" << c.length << " w=" << c.window << " q_len=" << q_len << " variant=" << mask_variant_name(variant);
        std::int64_t kept = 0;
        for (auto byte : dense) kept += byte;
        EXPECT_EQ(dma_kept_count(death, q_len), kept);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CompactMaskAgreesWithDenseTopK,
                         ::testing::Values(Case{1, 1, 0}, Case{7, 1, 0}, Case{33, 8, 0}, Case{33, 32, 0},
                                           Case{33, 33, 0}, Case{33, 64, 0}, Case{100, 17, 0}, Case{100, 17, 3},
                                           Case{64, 16, 1}, Case{257, 64, 5}));

TEST(DmaMask, PerRowKeepsExactlyMinOfWindowAndPrefixOnEveryRow) {
  const auto beta = random_beta(500, 7, 0);
  const auto death = dma_death_indices(beta, 40);
  const auto keep = dma_expand_keep(death, 500);
  for (std::int64_t i = 0; i < 500; ++i) {
    int kept = 0;
    for (std::int64_t j = 0; j < 500; ++j) kept += keep[i * 500 + j];
    EXPECT_EQ(kept, std::min<std::int64_t>(40, i + 1)) << "row " << i;
  }
}

TEST(DmaMask, TiesBreakTowardTheLowerIndexAsTorchTopkOnCuda) {
  const std::vector<float> constant(10, 1.0f);
  const auto keep = dma_expand_keep(dma_death_indices(constant, 3), 10);
  for (std::int64_t j = 0; j < 10; ++j) EXPECT_EQ(keep[9 * 10 + j], j < 3 ? 1 : 0);
}

TEST(DmaMask, NanRanksFirstAsInTorchTopk) {
  const std::vector<float> beta = {1.0f, std::numeric_limits<float>::quiet_NaN(), 5.0f, 2.0f};
  const auto keep = dma_expand_keep(dma_death_indices(beta, 1), 4);
  EXPECT_EQ(keep[3 * 4 + 1], 1);
  EXPECT_EQ(keep[3 * 4 + 2], 0);
}

TEST(DmaMask, WindowBelowOneIsRefusedAndVariantNamesRoundTrip) {
  EXPECT_THROW(dma_death_indices(std::vector<float>{1.0f}, 0), Error);
  EXPECT_EQ(mask_variant_from_name(mask_variant_name(MaskVariant::SharedTopK)), MaskVariant::SharedTopK);
  EXPECT_THROW(mask_variant_from_name("topk"), Error);
}

TEST(DmaMask, ScalesToAMillionKeysInLinearMemory) {
  const auto beta = random_beta(1 << 20, 3, 0);
  const auto death = dma_death_indices(beta, 1024);
  // every row keeps exactly w keys once the prefix is long enough: total = Σ min(w, i+1)
  const std::int64_t L = 1 << 20, w = 1024;
  EXPECT_EQ(dma_kept_count(death, L), w * (w + 1) / 2 + (L - w) * w);
}

}  // namespace
}  // namespace dmascope
