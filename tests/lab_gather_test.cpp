// The gather kernel's CPU twin (core/lab/lab_gather.h): O_S over a tile's key list and row bitmasks equals a direct
// fp64 softmax over each row's kept keys; a row keeping nothing outputs zeros; keys outside the head are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/base/error.h"
#include "core/lab/lab_gather.h"
#include "tests/lab_test_heads.h"

namespace dmascope {
namespace {

// fp32 dot products on both sides, the softmax in fp64 on both: only the final rounding to fp32 differs.
constexpr double kTolerance = 1e-6;

TEST(LabGather, MatchesADirectSoftmaxOverEachRowsKeptKeys) {
  testing::OwnedLabHead owned;
  testing::make_random_head(owned, 100, 8, 16, 3);
  const LabHead& head = owned.head;
  std::mt19937 rng(5);
  std::bernoulli_distribution keep(0.4);
  KeptRows kept;
  kept.row_begin = 40;
  for (std::int64_t i = 40; i < 70; ++i) {
    if (i != 50)  // row 50 keeps nothing
      for (std::int64_t j = 0; j <= i; ++j)
        if (keep(rng) || j == i) kept.keys.push_back(static_cast<std::int32_t>(j));
    kept.offsets.push_back(static_cast<std::int64_t>(kept.keys.size()));
  }
  const TileGather tile = tile_gather(kept);
  const std::vector<float> out = gather_attention(head, tile);
  ASSERT_EQ(out.size(), 30u * 8u);
  for (std::int64_t i = 40; i < 70; ++i) {
    const auto row = kept.row(i);
    std::vector<double> expected(8, 0.0);
    if (!row.empty()) {
      std::vector<double> logits;
      double top = -INFINITY, sum = 0.0;
      for (std::int32_t j : row) {
        float dot = 0.0f;
        for (int c = 0; c < 8; ++c) dot += head.query[static_cast<std::size_t>(i * 8 + c)] * head.key[static_cast<std::size_t>(j * 8 + c)];
        logits.push_back(static_cast<double>(dot * head.scale + head.beta[static_cast<std::size_t>(j)]));
        top = std::max(top, logits.back());
      }
      for (std::size_t n = 0; n < row.size(); ++n) {
        const double weight = std::exp(logits[n] - top);
        sum += weight;
        for (int c = 0; c < 8; ++c) expected[c] += weight * head.value[static_cast<std::size_t>(row[n] * 8 + c)];
      }
      for (double& e : expected) e /= sum;
    }
    for (int c = 0; c < 8; ++c)
      EXPECT_NEAR(out[static_cast<std::size_t>((i - 40) * 8 + c)], expected[c], kTolerance) << "row " << i;
  }
}

TEST(LabGather, RefusesAKeyOutsideTheHead) {
  testing::OwnedLabHead owned;
  testing::make_random_head(owned, 10, 4, 4, 1);
  TileGather tile;
  tile.row_begin = 0, tile.row_end = 1;
  tile.keys = {12};
  tile.words_per_row = 1;
  tile.row_bits = {1};
  EXPECT_THROW(gather_attention(owned.head, tile), Error);
}

}  // namespace
}  // namespace dmascope
