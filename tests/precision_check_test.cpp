// engine::check_against_cpu_reference on the CPU, with runs whose distance from the reference is known: the reference
// itself (nothing differs), and the reference with every layer's β rounded to bf16 (its masks move where the rounding
// turns an order or makes a tie; its logits, on its own β and masks, are the same arithmetic), checked against an
// independent comparison of the two forwards' masks. And the errors for a run the check cannot read.
#include <gtest/gtest.h>

#include <cmath>

#include "core/base/error.h"
#include "core/formats/tensor.h"
#include "core/mask/cut_ties.h"
#include "core/model/doge_forward.h"
#include "core/model/forward_agreement.h"
#include "engine/precision/precision_check.h"
#include "tests/support/forward_comparison.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

// The kept-sets attention sums in another order than the DMA kernel: logits a few ulps apart.
constexpr double kSummationOrderError = 1e-5;

DogeModel fixture(const char* name) { return DogeModel::load(testing::fixtures_dir() / "models" / name); }

TEST(PrecisionCheck, TheReferenceItselfDiffersInNothing) {
  const DogeModel model = fixture("gqa_f32");
  const auto ids = testing::random_ids(3 * model.config.keep_window_size + 17, model.config.vocab_size, 11);
  ForwardOptions options;
  const ForwardResult run = doge_forward(model, ids, options);
  std::int64_t last_done = -1, total = 0;
  const engine::PrecisionCheck check =
      engine::check_against_cpu_reference(model, ids, options, run, [&](std::int64_t done, std::int64_t of) {
        EXPECT_GT(done, last_done);
        last_done = done;
        total = of;
      });
  EXPECT_EQ(last_done, 2 * model.config.num_hidden_layers);
  EXPECT_EQ(total, 2 * model.config.num_hidden_layers);
  EXPECT_EQ(check.tokens, static_cast<std::int64_t>(ids.size()));
  EXPECT_EQ(check.window, model.config.keep_window_size);
  EXPECT_EQ(check.relative_error, 0.0);
  EXPECT_TRUE(check.top_one.flips.empty());
  EXPECT_LT(check.same_masks_relative_error, kSummationOrderError);
  EXPECT_TRUE(check.finite());
  ASSERT_EQ(check.layers.size(), static_cast<std::size_t>(model.config.num_hidden_layers));
  for (const engine::LayerMaskCheck& layer : check.layers) {
    ASSERT_EQ(layer.heads.size(), static_cast<std::size_t>(model.weights.bias_heads));
    for (std::size_t head = 0; head < layer.heads.size(); ++head) {
      EXPECT_EQ(layer.heads[head].rows_differing, 0);
      EXPECT_EQ(layer.heads[head].kept_share, 1.0);
      EXPECT_EQ(layer.largest_beta_change[head], 0.0);
    }
  }
}

TEST(PrecisionCheck, ARunOnBf16RoundedBetaIsMeasuredLayerByLayer) {
  for (const char* name : {"gqa_f32", "doge-tiny-random"}) {
    SCOPED_TRACE(name);
    const DogeModel model = name == std::string("gqa_f32") ? fixture(name)
                                                           : DogeModel::load(testing::source_dir() / "assets" /
                                                                             "models" / name);
    const auto ids = testing::random_ids(301, model.config.vocab_size, 5);
    ForwardOptions options;
    options.window = model.config.keep_window_size / 2;
    ForwardOptions rounded = options;
    rounded.bias_override = [](std::int64_t, std::span<float> beta) {
      for (float& b : beta) b = round_to_bf16(b);
    };
    const ForwardResult run = doge_forward(model, ids, rounded);
    const ForwardResult reference = doge_forward(model, ids, options);
    const engine::PrecisionCheck check = engine::check_against_cpu_reference(model, ids, options, run);

    EXPECT_EQ(check.relative_error, logits_relative_error(run.logits, reference.logits));
    EXPECT_GT(check.relative_error, 0.0);
    EXPECT_EQ(check.top_one.flips.size(), top_one_agreement(run.logits, reference.logits).flips.size());
    // On the run's own β and masks the reference's arithmetic is the run's: only the summation order differs.
    EXPECT_LT(check.same_masks_relative_error, kSummationOrderError);
    EXPECT_TRUE(check.same_masks_top_one.flips.empty()) << describe_flips(check.same_masks_top_one);

    const std::int64_t L = static_cast<std::int64_t>(ids.size()), heads = model.weights.bias_heads;
    std::int64_t differing = 0;
    for (std::int64_t layer = 0; layer < model.config.num_hidden_layers; ++layer) {
      const LayerCapture& a = run.layers[static_cast<std::size_t>(layer)];
      const LayerCapture& b = reference.layers[static_cast<std::size_t>(layer)];
      for (std::int64_t head = 0; head < heads; ++head) {
        const std::span<const float> beta_a(a.dyn_bias.data<float>() + head * L, static_cast<std::size_t>(L));
        const std::span<const float> beta_b(b.dyn_bias.data<float>() + head * L, static_cast<std::size_t>(L));
        const MaskAgreement expected = mask_agreement(
            {a.death.data<std::int32_t>() + head * L, static_cast<std::size_t>(L)},
            {b.death.data<std::int32_t>() + head * L, static_cast<std::size_t>(L)},
            dma_cut_ties(beta_a, check.window), dma_cut_ties(beta_b, check.window));
        const MaskAgreement& got = check.layers[static_cast<std::size_t>(layer)].heads[static_cast<std::size_t>(head)];
        EXPECT_EQ(got.rows_differing, expected.rows_differing) << "layer " << layer << " head " << head;
        EXPECT_EQ(got.differing_on_tie, expected.differing_on_tie) << "layer " << layer << " head " << head;
        EXPECT_EQ(got.kept_share, expected.kept_share) << "layer " << layer << " head " << head;
        differing += got.rows_differing;
        const double change =
            check.layers[static_cast<std::size_t>(layer)].largest_beta_change[static_cast<std::size_t>(head)];
        EXPECT_GT(change, 0.0) << "layer " << layer << " head " << head << ": rounding moved no β";
        if (layer == 0) {  // layer 0's β is the reference's rounded to nearest: at most half a bf16 step (2^-8 of |β|)
          EXPECT_LE(change, std::ldexp(1.0, -8)) << "head " << head;
        }
      }
    }
    EXPECT_GT(differing, 0) << "no mask moved: the per-layer comparison was not exercised";
  }
}

TEST(PrecisionCheck, ARunWithoutEveryLogitRowOrLayerIsRefusedNamingIt) {
  const DogeModel model = fixture("gqa_f32");
  const auto ids = testing::random_ids(40, model.config.vocab_size, 3);
  ForwardOptions options;
  ForwardResult run = doge_forward(model, ids, options);
  ForwardResult last_row_only = run;
  last_row_only.logits = Tensor::zeros(DType::F32, {1, 1, model.config.vocab_size});
  try {
    engine::check_against_cpu_reference(model, ids, options, last_row_only);
    ADD_FAILURE() << "a run with one logit row was checked";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("logits"), std::string::npos) << error.what();
  }
  run.layers.pop_back();
  try {
    engine::check_against_cpu_reference(model, ids, options, run);
    ADD_FAILURE() << "a run missing a layer was checked";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("layers"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace dmascope
