// The forward's mask seam (ForwardOptions::kept_sets): attention over explicit kept sets against the reference kernel
// under the same mask, DMA's own sets reproducing the plain forward, and a strategy's sets inside a whole model
// against a brute-force construction of the same sets.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/attention/attention_kept_sets.h"
#include "core/base/error.h"
#include "core/mask/dma_mask.h"
#include "core/model/doge_forward.h"
#include "core/lab/strategy.h"
#include "engine/lab/answer_accuracy.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

// fp32 products, fp64 softmax sums on both sides but in different orders: a few ulps per output.
constexpr float kOutputTolerance = 2e-5f;
// Logits after a whole (tiny) model whose attention ran through two kernels with different summation orders.
constexpr float kLogitTolerance = 2e-4f;

struct RandomProblem {
  std::vector<float> q, k, v, beta;
  std::vector<std::int32_t> death;
  AttentionProblem problem;
};

RandomProblem random_problem(std::int64_t length, std::int64_t window, std::uint32_t seed) {
  RandomProblem owned;
  const std::int64_t H = 4, Hkv = 2, d = 8;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  owned.q.resize(static_cast<std::size_t>(H * length * d));
  owned.k.resize(static_cast<std::size_t>(Hkv * length * d));
  owned.v.resize(owned.k.size());
  owned.beta.resize(static_cast<std::size_t>(Hkv * length));
  for (auto* values : {&owned.q, &owned.k, &owned.v, &owned.beta})
    for (float& x : *values) x = normal(rng);
  for (std::int64_t b = 0; b < Hkv; ++b) {
    const auto death = dma_death_indices(std::span<const float>(owned.beta.data() + b * length,
                                                                static_cast<std::size_t>(length)),
                                         window, MaskVariant::PerRowTopK);
    owned.death.insert(owned.death.end(), death.begin(), death.end());
  }
  AttentionProblem& p = owned.problem;
  p.q_heads = H, p.kv_heads = Hkv, p.bias_heads = Hkv, p.q_len = p.key_len = length, p.head_dim = d;
  p.scale = 1.0f / std::sqrt(static_cast<float>(d));
  p.q = owned.q.data(), p.k = owned.k.data(), p.v = owned.v.data(), p.beta = owned.beta.data();
  p.death = owned.death.data();
  return owned;
}

// The kept sets a death index describes, built entry by entry.
std::vector<KeptKeySets> sets_of_death(const AttentionProblem& problem) {
  std::vector<KeptKeySets> heads(static_cast<std::size_t>(problem.q_heads));
  for (std::int64_t h = 0; h < problem.q_heads; ++h)
    for (std::int64_t i = 0; i < problem.q_len; ++i) {
      auto& sets = heads[static_cast<std::size_t>(h)];
      const std::int32_t* death = problem.death + problem.bias_head_of(h) * problem.key_len;
      for (std::int32_t j = 0; j <= i; ++j)
        if (i < death[j]) sets.keys.push_back(j);
      sets.offsets.push_back(static_cast<std::int64_t>(sets.keys.size()));
    }
  return heads;
}

TEST(AttentionKeptSets, DmaSetsMatchTheReferenceUnderTheSameMask) {
  RandomProblem owned = random_problem(70, 12, 3);
  const auto sets = sets_of_death(owned.problem);
  std::vector<float> expected(owned.q.size()), actual(owned.q.size());
  attention_reference(owned.problem, expected.data(), nullptr, true);
  attention_kept_sets(owned.problem, sets, actual.data());
  for (std::size_t e = 0; e < expected.size(); ++e) ASSERT_NEAR(actual[e], expected[e], kOutputTolerance) << e;
}

TEST(AttentionKeptSets, AnEmptyRowOutputsZerosAndBadSetsAreErrorsNamingTheHead) {
  RandomProblem owned = random_problem(6, 2, 4);
  auto sets = sets_of_death(owned.problem);
  // head 1, row 3: no key
  auto& head = sets[1];
  const auto begin = head.offsets[3], end = head.offsets[4];
  head.keys.erase(head.keys.begin() + begin, head.keys.begin() + end);
  for (std::size_t r = 4; r < head.offsets.size(); ++r) head.offsets[r] -= end - begin;
  std::vector<float> out(owned.q.size(), 1.0f);
  attention_kept_sets(owned.problem, sets, out.data());
  const std::int64_t d = owned.problem.head_dim, L = owned.problem.q_len;
  for (std::int64_t c = 0; c < d; ++c) EXPECT_EQ(out[static_cast<std::size_t>((1 * L + 3) * d + c)], 0.0f);
  sets[2].keys[sets[2].offsets[1]] = 5;  // row 1 keeps a future key
  try {
    attention_kept_sets(owned.problem, sets, out.data());
    FAIL() << "a future key was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("head 2 row 1 keeps key 5"), std::string::npos) << error.what();
  }
  sets.pop_back();
  EXPECT_THROW(attention_kept_sets(owned.problem, sets, out.data()), Error);
}

DogeModel tiny_model() {
  return DogeModel::load(testing::source_dir() / "assets/models/doge-tiny-random");
}

std::vector<std::int32_t> random_ids(std::int64_t length, std::int64_t vocab) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(vocab - 1));
  std::vector<std::int32_t> ids(static_cast<std::size_t>(length));
  for (auto& id : ids) id = token(rng);
  return ids;
}

void expect_logits_near(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.numel(), expected.numel());
  const float *a = actual.data<float>(), *e = expected.data<float>();
  for (std::int64_t n = 0; n < actual.numel(); ++n) ASSERT_NEAR(a[n], e[n], kLogitTolerance) << "logit " << n;
}

TEST(ForwardKeptSets, DmaStrategyAtTheModelsWindowIsThePlainForward) {
  const DogeModel model = tiny_model();
  const auto ids = random_ids(40, model.config.vocab_size);
  ForwardOptions plain;
  plain.capture = false;
  ForwardOptions seam = plain;
  std::int64_t layers_seen = 0;
  seam.kept_sets = [&](std::int64_t, const AttentionProblem& problem) {
    ++layers_seen;
    return strategy_kept_sets(problem, Strategy::Dma, model.config.keep_window_size);
  };
  const ForwardResult expected = doge_forward(model, ids, plain), actual = doge_forward(model, ids, seam);
  EXPECT_EQ(layers_seen, model.config.num_hidden_layers);
  expect_logits_near(actual.logits, expected.logits);
}

// swa's sets through the seam against the sets written out by hand: keys i − w + 1 … i.
TEST(ForwardKeptSets, SlidingWindowSetsMatchABruteForceConstruction) {
  const DogeModel model = tiny_model();
  const auto ids = random_ids(40, model.config.vocab_size);
  constexpr std::int64_t kWindow = 5;
  ForwardOptions brute;
  brute.capture = false;
  brute.kept_sets = [](std::int64_t, const AttentionProblem& problem) {
    std::vector<KeptKeySets> heads(static_cast<std::size_t>(problem.q_heads));
    for (auto& sets : heads)
      for (std::int64_t i = 0; i < problem.q_len; ++i) {
        for (std::int64_t j = 0; j <= i; ++j)
          if (i - j < kWindow) sets.keys.push_back(static_cast<std::int32_t>(j));
        sets.offsets.push_back(static_cast<std::int64_t>(sets.keys.size()));
      }
    return heads;
  };
  ForwardOptions swa = brute;
  swa.kept_sets = [](std::int64_t, const AttentionProblem& problem) {
    return strategy_kept_sets(problem, Strategy::Swa, kWindow);
  };
  ForwardOptions plain;
  plain.capture = false;
  const ForwardResult expected = doge_forward(model, ids, brute), actual = doge_forward(model, ids, swa);
  expect_logits_near(actual.logits, expected.logits);
  // and the seam did change the model: w = 5 differs from DMA's w = 16
  const ForwardResult dma = doge_forward(model, ids, plain);
  float largest_difference = 0.0f;
  for (std::int64_t n = 0; n < dma.logits.numel(); ++n)
    largest_difference = std::max(largest_difference, std::abs(dma.logits.data<float>()[n] -
                                                                actual.logits.data<float>()[n]));
  EXPECT_GT(largest_difference, 100 * kLogitTolerance);
}

TEST(ForwardKeptSets, AWindowAsLongAsTheSequenceIsDenseAttention) {
  const DogeModel model = tiny_model();
  const auto ids = random_ids(24, model.config.vocab_size);
  ForwardOptions dense;
  dense.capture = false;
  dense.window = 24;  // DMA keeps every key of every row
  ForwardOptions oracle = dense;
  oracle.window = 0;
  oracle.kept_sets = [](std::int64_t, const AttentionProblem& problem) {
    return strategy_kept_sets(problem, Strategy::Oracle, problem.q_len);
  };
  expect_logits_near(doge_forward(model, ids, oracle).logits, doge_forward(model, ids, dense).logits);
}

// The β seam (ForwardOptions::bias_override): the layer's β is what the hook wrote — the capture holds it and the mask
// is DMA's rule on it — and writing back β unchanged leaves the forward as it was.
TEST(ForwardBiasOverride, TheMaskAndTheCaptureFollowTheWrittenBias) {
  const DogeModel model = tiny_model();
  const auto ids = random_ids(40, model.config.vocab_size);
  const std::int64_t L = 40, window = model.config.keep_window_size;
  ForwardOptions options;
  const ForwardResult plain = doge_forward(model, ids, options);
  options.bias_override = [](std::int64_t, std::span<float>) {};
  expect_logits_near(doge_forward(model, ids, options).logits, plain.logits);

  // A β that ranks the keys in reverse order of position, unlike the model's own.
  options.bias_override = [&](std::int64_t layer, std::span<float> beta) {
    for (std::size_t n = 0; n < beta.size(); ++n)
      beta[n] = static_cast<float>(layer + 1) * static_cast<float>(L - static_cast<std::int64_t>(n) % L);
  };
  const ForwardResult overridden = doge_forward(model, ids, options);
  for (std::int64_t layer = 0; layer < model.config.num_hidden_layers; ++layer) {
    const LayerCapture& capture = overridden.layers[static_cast<std::size_t>(layer)];
    const std::int64_t Hb = capture.dyn_bias.shape()[1];
    for (std::int64_t b = 0; b < Hb; ++b) {
      const std::span<const float> beta(capture.dyn_bias.data<float>() + b * L, static_cast<std::size_t>(L));
      for (std::int64_t j = 0; j < L; ++j)
        ASSERT_EQ(beta[static_cast<std::size_t>(j)], static_cast<float>(layer + 1) * static_cast<float>(L - j));
      const auto death = dma_death_indices(beta, window, MaskVariant::PerRowTopK);
      EXPECT_TRUE(std::equal(death.begin(), death.end(), capture.death.data<std::int32_t>() + b * L))
          << "layer " << layer << " bias head " << b;
    }
  }
  EXPECT_NE(overridden.logits.data<float>()[0 + (L - 1) * model.config.vocab_size],
            plain.logits.data<float>()[0 + (L - 1) * model.config.vocab_size]);
}

}  // namespace
}  // namespace dmascope
