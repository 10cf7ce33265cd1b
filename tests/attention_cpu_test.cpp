#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/attention/attention_cpu.h"
#include "core/mask/dma_mask.h"

namespace dmascope {
namespace {

// float32 accumulation against a double-accumulated reference: errors of a few ulp per dot product, far below 1e-5
// relative for d ≤ 128 with unit-scale inputs.
constexpr double kFloat32RelativeTolerance = 1e-5;

struct Inputs {
  AttentionProblem problem;
  std::vector<float> q, k, v, beta;
  std::vector<std::int32_t> death;
};

Inputs make_inputs(std::int64_t q_heads, std::int64_t kv_heads, std::int64_t bias_heads, std::int64_t q_len,
                   std::int64_t key_len, std::int64_t d, std::int64_t window, std::uint32_t seed, std::int64_t batch = 1) {
  Inputs in;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto fill = [&](std::vector<float>& x, std::size_t n) {
    x.resize(n);
    for (auto& value : x) value = normal(rng);
  };
  fill(in.q, batch * q_heads * q_len * d);
  fill(in.k, batch * kv_heads * key_len * d);
  fill(in.v, batch * kv_heads * key_len * d);
  fill(in.beta, batch * bias_heads * key_len);
  for (auto& value : in.beta) value = std::exp(value);
  for (std::int64_t head = 0; head < batch * bias_heads; ++head) {
    const auto death = dma_death_indices(std::span<const float>(in.beta.data() + head * key_len, key_len), window);
    in.death.insert(in.death.end(), death.begin(), death.end());
  }
  auto& P = in.problem;
  P.batch = batch;
  P.q_heads = q_heads;
  P.kv_heads = kv_heads;
  P.bias_heads = bias_heads;
  P.q_len = q_len;
  P.key_len = key_len;
  P.head_dim = d;
  P.scale = 1.0f / std::sqrt(static_cast<float>(d));
  P.q = in.q.data();
  P.k = in.k.data();
  P.v = in.v.data();
  P.beta = in.beta.data();
  P.death = in.death.data();
  return in;
}

double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i])) return INFINITY;
    diff += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(diff / norm);
}

struct Shape {
  std::int64_t q_heads, kv_heads, bias_heads, q_len, key_len, d, window, batch;
};

void PrintTo(const Shape& s, std::ostream* os) {
  *os << "B" << s.batch << " H" << s.q_heads << "/" << s.kv_heads << "/" << s.bias_heads << " Lq" << s.q_len << " Lk"
      << s.key_len << " d" << s.d << " w" << s.window;
}

class TiledMatchesReference : public ::testing::TestWithParam<Shape> {};

TEST_P(TiledMatchesReference, OnFreshRandomInputs) {
  const Shape s = GetParam();
  for (std::uint32_t seed : {1u, 2u}) {
    Inputs in = make_inputs(s.q_heads, s.kv_heads, s.bias_heads, s.q_len, s.key_len, s.d, s.window, seed, s.batch);
    const std::size_t out_size = static_cast<std::size_t>(s.batch * s.q_heads * s.q_len * s.d);
    std::vector<float> reference(out_size), tiled(out_size, std::numeric_limits<float>::quiet_NaN());  // poisoned
    attention_reference(in.problem, reference.data(), nullptr, true);
    for (TileShape tiles : {TileShape{64, 64}, TileShape{16, 32}, TileShape{7, 5}}) {
      std::fill(tiled.begin(), tiled.end(), std::numeric_limits<float>::quiet_NaN());
      const AttentionWork work = attention_tiled(in.problem, tiles, tiled.data());
      EXPECT_LT(relative_error(tiled, reference), kFloat32RelativeTolerance)
          << "tiles " << tiles.rows << "x" << tiles.cols;
      std::int64_t kept = 0;
      for (std::int64_t head = 0; head < s.batch * s.q_heads; ++head) {
        const std::int64_t bias_head = (head / s.q_heads) * s.bias_heads + in.problem.bias_head_of(head % s.q_heads);
        kept += dma_kept_count(std::span<const std::int32_t>(in.death.data() + bias_head * s.key_len, s.key_len), s.q_len);
      }
      EXPECT_EQ(work.kept_entries, kept);
      EXPECT_LE(work.score_entries, s.batch * s.q_heads * s.q_len * std::min(s.key_len, s.window + tiles.rows));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, TiledMatchesReference,
    ::testing::Values(Shape{2, 1, 1, 129, 129, 64, 16, 1},    // GQA 2, odd L
                      Shape{4, 4, 4, 50, 50, 16, 100, 1},     // MHA, L < w (dense causal + bias)
                      Shape{8, 1, 1, 65, 65, 32, 64, 1},      // GQA 8, L = w + 1
                      Shape{4, 2, 2, 40, 40, 128, 1, 2},      // w = 1, d 128, batch 2
                      Shape{4, 2, 4, 70, 70, 24, 9, 1},       // small-doge layout: a bias per query head
                      Shape{2, 1, 1, 37, 100, 64, 20, 1}));   // q_len < key_len: bottom-right aligned

TEST(AttentionReference, ProbabilitiesSumToOneAndAreZeroExactlyWhereMasked) {
  Inputs in = make_inputs(2, 1, 1, 30, 30, 16, 5, 9);
  std::vector<float> out(2 * 30 * 16), probs(2 * 30 * 30);
  attention_reference(in.problem, out.data(), probs.data(), false);
  const auto keep = dma_expand_keep(in.death, 30);
  for (std::int64_t h = 0; h < 2; ++h)
    for (std::int64_t i = 0; i < 30; ++i) {
      double sum = 0.0;
      for (std::int64_t j = 0; j < 30; ++j) {
        const float p = probs[(h * 30 + i) * 30 + j];
        sum += p;
        if (!keep[i * 30 + j]) {
          EXPECT_EQ(p, 0.0f);
        }
      }
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
}

TEST(TileMap, CountsMatchTheExpandedMaskTileByTile) {
  Inputs in = make_inputs(1, 1, 1, 200, 200, 8, 24, 4);
  const TileShape shape{32, 16};
  const TileMap map = build_tile_map(in.death.data(), 200, 200, shape);
  const auto keep = dma_expand_keep(in.death, 200);
  ASSERT_EQ(map.q_tiles, 7);
  ASSERT_EQ(map.k_tiles, 13);
  std::int64_t kept_total = 0;
  for (std::int64_t qt = 0; qt < map.q_tiles; ++qt)
    for (std::int64_t kt = 0; kt < map.k_tiles; ++kt) {
      std::int64_t kept = 0, cells = 0;
      for (std::int64_t i = qt * 32; i < std::min<std::int64_t>(200, qt * 32 + 32); ++i)
        for (std::int64_t j = kt * 16; j < std::min<std::int64_t>(200, kt * 16 + 16); ++j) {
          kept += keep[i * 200 + j];
          ++cells;
        }
      kept_total += kept;
      const auto expected = kept == 0 ? TileStatus::Skipped : kept == cells ? TileStatus::Full : TileStatus::Partial;
      EXPECT_EQ(static_cast<TileStatus>(map.status[qt * map.k_tiles + kt]), expected) << qt << "," << kt;
    }
  EXPECT_EQ(map.kept_entries, kept_total);
  EXPECT_EQ(map.causal_entries, 200 * 201 / 2);
  EXPECT_EQ(map.skipped + map.partial + map.full, map.q_tiles * map.k_tiles);
  EXPECT_GT(map.skipped, 0);
}

TEST(TileMap, DenseCausalMapHasFullTilesBelowTheDiagonalOnly) {
  const TileMap map = build_tile_map(nullptr, 128, 128, TileShape{32, 32});
  EXPECT_EQ(map.full, 6);     // strictly below the diagonal
  EXPECT_EQ(map.partial, 4);  // the diagonal tiles
  EXPECT_EQ(map.skipped, 6);
  EXPECT_DOUBLE_EQ(map.token_density(), 1.0);
}

}  // namespace
}  // namespace dmascope
