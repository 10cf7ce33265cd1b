// CDMoE's routed experts on the CPU (core/model/cdmoe_experts.h), stage by stage, on hand-worked cases: the raw view
// of the router output, the pair sums and their top, the tie rule, the softmax, the bf16 rounding, the experts' sum.
// The stages together inside the forward are checked against transformers by golden_forward_test (moe_sharded_f32).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/formats/tensor.h"
#include "core/model/cdmoe_experts.h"
#include "core/model/linear.h"

namespace dmascope {
namespace {

struct Choices {
  std::vector<std::int32_t> ids;
  std::vector<float> weights;
};

Choices route(const std::vector<float>& logits, std::int64_t tokens, std::int64_t keys, std::int64_t top,
              CdmoeRounding rounding = CdmoeRounding::Fp32, bool norm_topk_prob = false) {
  const CdmoeRouting shape{.tokens = tokens, .keys = keys, .experts_per_token = top, .norm_topk_prob = norm_topk_prob};
  Choices choices;
  choices.ids.resize(static_cast<std::size_t>(tokens * top));
  choices.weights.resize(choices.ids.size());
  cdmoe_route(logits.data(), shape, rounding, choices.ids.data(), choices.weights.data());
  return choices;
}

// transformers views the [N, 2K] router output as [2, N, K] without a transpose: row 0 takes its part 0 from token
// 0's first half and its part 1 from token 1's first half; a per-token split would take both from token 0.
TEST(CdmoeRoute, ReadsTheRawViewSoARowsExpertsComeFromOtherTokens) {
  const std::vector<float> logits = {0, 5, 0, 9,   // token 0: [x | x'] of the raw view's rows 0 and 1 of part 0
                                     7, 0, 0, 3};  // token 1: rows 0 and 1 of part 1
  const Choices choices = route(logits, 2, 2, 1);
  EXPECT_EQ(choices.ids, (std::vector<std::int32_t>{1 * 2 + 0,    // row 0: argmax [0, 5] · K + argmax [7, 0]
                                                    1 * 2 + 1}));  // row 1: argmax [0, 9] · K + argmax [0, 3]
  EXPECT_EQ(choices.weights, (std::vector<float>{1.0f, 1.0f}));
}

// One row, K = 3: x = [1, 3, 2] sorts to indices 1, 2, 0; y = [0.5, −1, 0.25] to 0, 2, 1. The best four sums are
// 3 + 0.5 (expert 1·3 + 0), 3 + 0.25 (1·3 + 2), 2 + 0.5 (2·3 + 0), 2 + 0.25 (2·3 + 2).
TEST(CdmoeRoute, PicksTheBestPairSumsAndWeighsThemBySoftmax) {
  const std::vector<float> logits = {1, 3, 2, 0.5f, -1, 0.25f};
  for (const bool norm_topk_prob : {false, true}) {
    const Choices choices = route(logits, 1, 3, 4, CdmoeRounding::Fp32, norm_topk_prob);
    EXPECT_EQ(choices.ids, (std::vector<std::int32_t>{3, 5, 6, 8}));
    const float scores[] = {3.5f, 3.25f, 2.5f, 2.25f};
    float total = 0.0f;
    for (float score : scores) total += std::exp(score - scores[0]);
    for (int t = 0; t < 4; ++t)
      EXPECT_NEAR(choices.weights[t], std::exp(scores[t] - scores[0]) / total, 1e-6) << t << " " << norm_topk_prob;
  }
}

// Ties go to the lower index, in each part's sort and among the pair sums (flat index a·K + b), as torch.topk on CUDA.
TEST(CdmoeRoute, TiesGoToTheLowerIndexInThePartsAndAmongTheSums) {
  // All four sums equal: flat order 0, 1 → experts 0·2 + 0 and 0·2 + 1.
  EXPECT_EQ(route({1, 1, 0, 0}, 1, 2, 2).ids, (std::vector<std::int32_t>{0, 1}));
  // x = [2, 1], y = [1, 2]: sums 4 (expert 0·2 + 1), then 3 twice: flat 1 (expert 0·2 + 0) before flat 2 (1·2 + 1).
  EXPECT_EQ(route({2, 1, 1, 2}, 1, 2, 2).ids, (std::vector<std::int32_t>{1, 0}));
}

TEST(CdmoeRoute, ANanLogitRanksFirstAndPoisonsTheWeights) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Choices choices = route({0, nan, 1, 0}, 1, 2, 1);
  EXPECT_EQ(choices.ids, (std::vector<std::int32_t>{1 * 2 + 0}));
  EXPECT_TRUE(std::isnan(choices.weights[0]));
}

// In bf16 the pair sums are rounded: x = [1 + 2⁻⁷, 1], y = [0, 5·2⁻⁹]. Sorted x: 0, 1; sorted y: 1, 0. Flat 1
// (x₀ + y₀ = 1.0078125, expert 0) and flat 2 (x₁ + y₁ = 1.009765625, expert 3) differ in fp32 but both round to
// 1.0078125 in bf16, where the tie goes to flat 1.
TEST(CdmoeRoute, Bf16RoundsThePairSumsAndTheWeights) {
  const std::vector<float> logits = {1.0078125f, 1.0f, 0.0f, 0.009765625f};
  EXPECT_EQ(route(logits, 1, 2, 2, CdmoeRounding::Fp32).ids, (std::vector<std::int32_t>{1, 3}));
  const Choices bf16 = route(logits, 1, 2, 2, CdmoeRounding::Bf16);
  EXPECT_EQ(bf16.ids, (std::vector<std::int32_t>{1, 0}));
  // Sums 1.017578125 → 1.015625 and 1.0078125; the softmax is fp32, its output rounded to bf16.
  const float e1 = std::exp(1.0078125f - 1.015625f);
  EXPECT_EQ(bf16.weights[0], round_to_bf16(1.0f / (1.0f + e1)));
  EXPECT_EQ(bf16.weights[1], round_to_bf16(e1 / (1.0f + e1)));
  for (const bool norm_topk_prob : {false, true})
    for (float weight : route({0.3125f, -1.5f, 2.0f, 0.75f, 0.5f, 0.125f}, 1, 3, 5, CdmoeRounding::Bf16,
                              norm_topk_prob).weights)
      EXPECT_EQ(weight, round_to_bf16(weight)) << norm_topk_prob;
}

// y += silu(down·h)·weight·up per chosen expert, on top of what y held (the shared expert's output).
TEST(CdmoeAddExperts, AddsEachExpertsWeightedUpVectorToTheSharedOutput) {
  const std::vector<float> h = {1, 2, -1, 0.5f};                  // 2 tokens, D = 2
  const std::vector<float> down = {0.5f, 0.25f, -1, 1, 2, 0};      // 3 experts
  const std::vector<float> up = {1, 0, 0, 1, 3, -2};
  const std::vector<std::int32_t> ids = {2, 0, 1, 1};             // 2 per token (an expert may repeat)
  const std::vector<float> weights = {0.75f, 0.25f, 0.5f, 0.5f};
  std::vector<float> y = {10, 20, 30, 40};
  cdmoe_add_experts(h.data(), 2, 2, down.data(), up.data(), ids.data(), weights.data(), 2, CdmoeRounding::Fp32,
                    y.data());
  const float a0 = silu(2 * 1 + 0 * 2) * 0.75f, a1 = silu(0.5f * 1 + 0.25f * 2) * 0.25f;
  const float b = silu(-1 * -1 + 1 * 0.5f) * 0.5f;
  EXPECT_FLOAT_EQ(y[0], 10 + a0 * 3 + a1 * 1);
  EXPECT_FLOAT_EQ(y[1], 20 + a0 * -2 + a1 * 0);
  EXPECT_FLOAT_EQ(y[2], 30 + 2 * b * 0);
  EXPECT_FLOAT_EQ(y[3], 40 + 2 * b * 1);

  // bf16: the result is bf16-valued and within bf16 rounding of the fp32 one.
  std::vector<float> y_bf16 = {10, 20, 30, 40};
  cdmoe_add_experts(h.data(), 2, 2, down.data(), up.data(), ids.data(), weights.data(), 2, CdmoeRounding::Bf16,
                    y_bf16.data());
  for (std::size_t i = 0; i < y.size(); ++i) {
    EXPECT_EQ(y_bf16[i], round_to_bf16(y_bf16[i])) << i;
    EXPECT_NEAR(y_bf16[i], y[i], std::abs(y[i]) * 0.01) << i;
  }
}

}  // namespace
}  // namespace dmascope
