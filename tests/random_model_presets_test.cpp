// make-model's presets: each published SmallDoge shape exactly as research/dma-spec.md §3.6 lists it, and the 20M
// preset written, loaded and run forward at a few tokens with the published parameter count.
#include <gtest/gtest.h>

#include <cmath>

#include "core/base/error.h"
#include "core/model/doge_forward.h"
#include "core/model/random_model.h"
#include "test_paths.h"

namespace dmascope {
namespace {

struct PublishedConfig {
  const char* preset;
  std::int64_t hidden, intermediate, layers, heads, kv_heads;
};

TEST(RandomModelPresets, PublishedShapesMatchTheSpecTable) {
  const PublishedConfig table[] = {{"doge-20m", 256, 512, 8, 2, 1},
                                   {"doge-60m", 512, 1024, 16, 4, 2},
                                   {"doge-160m", 768, 1536, 24, 6, 3},
                                   {"doge-320m", 1024, 2048, 32, 8, 4}};
  for (const PublishedConfig& row : table) {
    SCOPED_TRACE(row.preset);
    const DogeConfig c = random_model_preset(row.preset);
    EXPECT_EQ(c.hidden_size, row.hidden);
    EXPECT_EQ(c.intermediate_size, row.intermediate);
    EXPECT_EQ(c.num_hidden_layers, row.layers);
    EXPECT_EQ(c.num_attention_heads, row.heads);
    EXPECT_EQ(c.num_key_value_heads, row.kv_heads);
    // Common to every published dense model.
    EXPECT_EQ(c.vocab_size, 32768);
    EXPECT_EQ(c.head_dim, 128);
    EXPECT_EQ(c.max_position_embeddings, 2048);
    EXPECT_EQ(c.keep_window_size, 2048);
    EXPECT_EQ(c.rms_norm_eps, 1e-6);
    EXPECT_EQ(c.hidden_act, "silu");
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_FALSE(c.is_moe);
    EXPECT_FALSE(c.attention_bias);
    EXPECT_FALSE(c.mlp_bias);
    EXPECT_EQ(c.rope.type, RopeType::Dynamic);
    EXPECT_EQ(c.rope.theta, 10000.0);
    EXPECT_EQ(c.rope.factor, 4.0);
    EXPECT_NO_THROW(c.check_sizes(row.preset));
  }
}

TEST(RandomModelPresets, EveryNamedPresetExistsAndAnUnknownOneIsRefusedByName) {
  const auto names = random_model_preset_names();
  EXPECT_EQ(names, (std::vector<std::string>{"tiny", "doge-20m", "doge-60m", "doge-160m", "doge-320m"}));
  for (const auto& name : names) EXPECT_NO_THROW(random_model_preset(name));
  try {
    random_model_preset("doge-1b");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("doge-1b"), std::string::npos) << e.what();
  }
}

TEST(RandomModelPresets, Doge20mWritesLoadsWithThePublishedParameterCountAndRunsForward) {
  const auto dir = testing::scratch_dir() / "doge-20m";
  write_random_doge(dir, random_model_preset("doge-20m"), DType::BF16, 5);
  const DogeModel model = DogeModel::load(dir);
  EXPECT_EQ(model.config.keep_window_size, 2048);
  // SmallDoge/Doge-20M's model page: 13.1M parameters (tied embeddings counted once).
  EXPECT_NEAR(static_cast<double>(model.weights.parameter_count) / 1e6, 13.1, 0.05);
  std::vector<std::int32_t> ids;
  for (std::int32_t n = 0; n < 24; ++n) ids.push_back((n * 977 + 11) % 32768);
  ForwardOptions options;
  options.window = 8;  // below L, so the top-w cut fires
  const ForwardResult result = doge_forward(model, ids, options);
  ASSERT_EQ(result.layers.size(), 8u);
  ASSERT_EQ(result.logits.numel(), 24 * 32768);
  const float* logits = result.logits.data<float>();
  for (std::int64_t n = 0; n < result.logits.numel(); ++n) ASSERT_TRUE(std::isfinite(logits[n])) << n;
}

}  // namespace
}  // namespace dmascope
