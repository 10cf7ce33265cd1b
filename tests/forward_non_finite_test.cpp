// The CPU forward never hands on NaN or infinity: the first non-finite value is an Error naming the layer and the
// stage where it appeared. And a model whose config disagrees with its tensors is refused, not run out of bounds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/model/doge_forward.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

DogeModel gqa_model() { return DogeModel::load(testing::fixtures_dir() / "models/gqa_f32"); }

std::string forward_error(const DogeModel& model, bool capture) {
  const std::vector<std::int32_t> ids = {1, 5, 9, 200, 7, 3};
  ForwardOptions options;
  options.capture = capture;
  try {
    doge_forward(model, ids, options);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ForwardNonFinite, SanityTheFixtureRunsClean) { EXPECT_EQ(forward_error(gqa_model(), true), "(no error)"); }

// rope_theta 1e-300 is refused when config.json is parsed; set in code it reaches the forward, whose rotary rate
// 1/0 makes position 0 × inf = NaN. The error names the layer and q_rope, not the logits where it ended up.
TEST(ForwardNonFinite, TinyRopeThetaIsNamedAsLayer0QRope) {
  DogeModel model = gqa_model();
  model.config.rope.theta = 1e-300;
  for (bool capture : {true, false})
    EXPECT_THAT(forward_error(model, capture), AllOf(HasSubstr("layer 0 q_rope has NaN at [0, 0, "),
                                                     HasSubstr("of [4, 6, 16]")));
}

TEST(ForwardNonFinite, OverflowInTheHeadIsNamedAsTheLogits) {
  DogeModel model = gqa_model();
  // Finite weights whose products are not: the normalized rows have RMS 1, so some entry exceeds 1 and its product
  // with 3e38 is beyond float32.
  model.weights.lm_head = Tensor::from_vector(std::vector<float>(512 * 64, 3e38f), {512, 64});
  EXPECT_THAT(forward_error(model, true), HasSubstr("final logits has "));
}

TEST(ForwardNonFinite, ALayerWeightOverflowIsNamedAtItsStage) {
  DogeModel model = gqa_model();
  auto& layer = model.weights.layers[1];
  layer.post_norm = Tensor::from_vector(std::vector<float>(64, 3e38f), {64});
  layer.gate_proj = Tensor::from_vector(std::vector<float>(96 * 64, 3e38f), {96, 64});
  // The post-attention norm or the MLP of layer 1 overflows (which one depends on the rounding): layer 0 is clean.
  EXPECT_THAT(forward_error(model, false), AllOf(HasSubstr("forward: layer 1 "), HasSubstr(" has ")));
}

TEST(ForwardShapes, AConfigEditedAfterLoadIsRefusedWithTheTensorAndShapes) {
  DogeModel model = gqa_model();
  model.config.num_attention_heads = 8;  // 8 × 16 rows expected, the checkpoint has 4 × 16
  model.config.num_key_value_heads = 2;
  EXPECT_THAT(forward_error(model, true), AllOf(HasSubstr("model.layers.0.self_attn.q_proj.weight"),
                                                HasSubstr("[64, 64]"), HasSubstr("[128, 64]")));
  DogeModel fewer = gqa_model();
  fewer.weights.layers.pop_back();
  EXPECT_THAT(forward_error(fewer, true), HasSubstr("num_hidden_layers = 2"));
}

}  // namespace
}  // namespace dmascope
