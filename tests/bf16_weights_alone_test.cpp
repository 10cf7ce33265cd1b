// How far bf16 weights alone move a model's logits: the CPU fp32 forward with every weight rounded to bf16, run on the
// unrounded forward's own β and masks (ForwardOptions::bias_override, kept_sets), against that forward — on every
// fixture and bundled model, at the lengths, windows and token ids of the bf16 GPU forward's test
// (tests/gpu/doge_forward_bf16_test.cpp). A forward that keeps its weights in bf16 starts from this difference however
// exact its arithmetic: it is the floor under the bf16 path's error and top-1 agreement against the fp32 reference.
// Each run prints a `[bf16 weights]` line; the test asserts what must hold of it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/model/doge_forward.h"
#include "tests/support/forward_comparison.h"

namespace dmascope {
namespace {

// The bf16 path's target for the logits' relative error: the weights' rounding alone must leave room under it.
constexpr double kTargetRelativeError = 0.02;
// The kept-sets attention sums in another order than the DMA kernel: logits a few ulps apart (measured 4.5e-7).
constexpr double kSummationOrderError = 1e-5;

void round_to_bf16(Tensor& weight) {
  if (weight.defined() && weight.numel() > 0 && weight.dtype() == DType::F32)
    weight = weight.to(DType::BF16).to(DType::F32);
}

// Every weight the bf16 GPU forward uploads as bf16 (kernels/doge_forward_bf16.cpp), rounded the same way.
DogeWeights rounded_to_bf16(DogeWeights weights) {
  round_to_bf16(weights.embed);
  round_to_bf16(weights.final_norm);
  round_to_bf16(weights.lm_head);
  for (DogeLayerWeights& l : weights.layers)
    for (Tensor* weight : {&l.input_norm, &l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.q_proj_bias, &l.k_proj_bias,
                           &l.v_proj_bias, &l.o_proj_bias, &l.dt_proj_bias, &l.q_norm, &l.k_norm, &l.A, &l.dt_proj,
                           &l.input_residual, &l.post_norm, &l.gate_proj, &l.up_proj, &l.down_proj,
                           &l.gate_proj_bias, &l.up_proj_bias, &l.down_proj_bias, &l.router_gate, &l.down_embed,
                           &l.up_embed, &l.post_residual})
      round_to_bf16(*weight);
  return weights;
}

// Whether every weight of the model already holds a bf16 value (a checkpoint stored in bf16).
bool stored_in_bf16(const DogeModel& model) {
  return model.weights.stored_dtypes == std::vector<std::string>{"BF16"};
}

void measure(const DogeModel& model, std::span<const std::int32_t> ids, std::int64_t window, const std::string& name) {
  ForwardOptions options;
  options.window = window;
  const ForwardResult reference = doge_forward(model, ids, options);
  DogeModel rounded = model;
  rounded.weights = rounded_to_bf16(model.weights);
  ForwardOptions same_masks = options;
  same_masks.capture = false;
  same_masks.kept_sets = [&](std::int64_t layer, const AttentionProblem& problem) {
    return testing::kept_sets_of_death(reference.layers[static_cast<std::size_t>(layer)].death, problem);
  };
  same_masks.bias_override = [&](std::int64_t layer, std::span<float> beta) {
    const Tensor& own = reference.layers[static_cast<std::size_t>(layer)].dyn_bias;
    ASSERT_EQ(static_cast<std::size_t>(own.numel()), beta.size());
    std::copy_n(own.data<float>(), beta.size(), beta.begin());
  };
  const ForwardResult weights_alone = doge_forward(rounded, ids, same_masks);
  const double error = logits_relative_error(weights_alone.logits, reference.logits);
  const TopOneAgreement agreement = top_one_agreement(weights_alone.logits, reference.logits);
  const double top_one = agreement.share();
  fmt::print("[bf16 weights] {}: L {} w {}: on the fp32 β and masks, logits rel. error {:.4f}, top-1 agreement {:.4f}; "
             "top-1 {}\n",
             name, ids.size(), reference.window, error, top_one,
             describe_flips(agreement, agreement.flips.size()));
  EXPECT_TRUE(std::isfinite(error)) << name;  // a NaN never passes
  EXPECT_LE(error, kTargetRelativeError) << name;
  if (stored_in_bf16(model)) {  // rounding a bf16 value changes nothing: only the attention's summation order differs
    EXPECT_LT(error, kSummationOrderError) << name;
    EXPECT_EQ(top_one, 1.0) << name;
  } else {
    EXPECT_GT(error, 0.0) << name << ": rounding to bf16 changed no weight";
  }
}

TEST(Bf16WeightsAlone, MoveEveryFixtureAndBundledModelLessThanTheTarget) {
  const std::vector<std::filesystem::path> dirs = testing::fixture_and_bundled_model_dirs();
  ASSERT_GE(dirs.size(), 7u);
  std::uint32_t seed = 1;  // the GPU test's ids, model by model
  for (const auto& dir : dirs) {
    const DogeModel model = DogeModel::load(dir);
    const std::int64_t window = model.config.keep_window_size;
    const std::string name = dir.filename().string();
    measure(model, testing::random_ids(3 * window + 17, model.config.vocab_size, seed++), 0, name);
    measure(model, testing::random_ids(301, model.config.vocab_size, seed++), window / 2, name + " w/2");
  }
}

}  // namespace
}  // namespace dmascope
