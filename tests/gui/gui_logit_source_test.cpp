// The logits view's source (app/gui/logit_source.h) on a real forward of the bundled tiny model: the head mapping
// (query head → kv head for k, → bias head for β and the mask) gives the logits computed here from the captures, and
// a result without q/k captures (or with captures of the wrong dtype) gives no source and a reason, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "app/gui/logit_source.h"
#include "core/toy_sequences.h"

namespace dmascope::gui {
namespace {

std::shared_ptr<PipelineResult> small_result() {
  auto loaded = std::make_shared<LoadedModel>(LoadedModel{DMASCOPE_DEFAULT_MODEL_DIR,
                                                          DogeModel::load(DMASCOPE_DEFAULT_MODEL_DIR), std::nullopt});
  auto result = std::make_shared<PipelineResult>();
  result->model = loaded;
  result->ids = make_toy_sequence(ToySequenceKind::Random, 24, loaded->model.config.vocab_size, 3).ids;
  ForwardOptions options;
  options.window = 6;
  result->forward = doge_forward(loaded->model, result->ids, options);
  return result;
}

TEST(GuiLogitSource, EveryHeadReadsItsKvHeadAndBiasHeadAndGivesTheForwardsLogits) {
  const auto result = small_result();
  const auto& config = result->model->model.config;
  const std::int64_t L = result->length(), d = config.head_dim, H = config.num_attention_heads;
  const std::int64_t Hkv = config.num_key_value_heads;
  ASSERT_LT(Hkv, H) << "the case should have grouped heads";
  for (std::int64_t layer = 0; layer < result->layers(); ++layer)
    for (std::int64_t head = 0; head < H; ++head) {
      std::string why_not;
      const auto source = logit_source(*result, layer, head, &why_not);
      ASSERT_TRUE(source) << why_not;
      const LayerCapture& capture = result->forward.layers[layer];
      const float* q = capture.q_rope.data<float>() + head * L * d;
      const float* k = capture.k_rope.data<float>() + (head / (H / Hkv)) * L * d;
      const std::int64_t bias_head = result->bias_head_of(head);
      EXPECT_EQ(source->death.data(), capture.death.data<std::int32_t>() + bias_head * L);
      for (std::int64_t i = 0; i < L; i += 5)
        for (std::int64_t j = 0; j <= i; j += 3) {
          double dot = 0.0;
          for (std::int64_t c = 0; c < d; ++c) dot += static_cast<double>(q[i * d + c]) * k[j * d + c];
          const double want = dot / std::sqrt(static_cast<double>(d)) +
                              capture.dyn_bias.data<float>()[bias_head * L + j];
          // float dot of d ≤ 64 terms against double: 1e-4 absolute is far above the rounding.
          EXPECT_NEAR(dma_logit(*source, i, j), want, 1e-4) << "layer " << layer << " head " << head;
        }
    }
}

TEST(GuiLogitSource, WithoutQkCapturesThereIsNoSourceAndTheReasonSaysSo) {
  const auto result = small_result();
  result->forward.layers[1].q_rope = Tensor();
  result->forward.layers[1].k_rope = Tensor();
  std::string why_not;
  EXPECT_TRUE(logit_source(*result, 0, 0, &why_not));
  EXPECT_FALSE(logit_source(*result, 1, 0, &why_not));
  EXPECT_NE(why_not.find("no q/k captures for layer 1"), std::string::npos) << why_not;
  result->forward.layers[0].k_rope = result->forward.layers[0].k_rope.to(DType::BF16);
  EXPECT_FALSE(logit_source(*result, 0, 0, &why_not));
  EXPECT_NE(why_not.find("BF16"), std::string::npos) << why_not;
  EXPECT_FALSE(logit_source(*result, 5, 0, &why_not));
  EXPECT_NE(why_not.find("outside the result"), std::string::npos) << why_not;
}

}  // namespace
}  // namespace dmascope::gui
