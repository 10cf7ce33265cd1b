#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/model/doge_config.h"
#include "core/base/error.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr const char* kMinimal =
    R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4)";

DogeConfig parse_with(const std::string& extra) {
  return DogeConfig::parse(std::string(kMinimal) + extra + "}", "test/config.json");
}

std::string error_of(const std::string& json) {
  try {
    DogeConfig::parse(json, "test/config.json");
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(DogeConfig, DefaultsFollowTransformers) {
  const DogeConfig c = parse_with("");
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.keep_window_size, 2048);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_EQ(c.rope.type, RopeType::Default);
  EXPECT_DOUBLE_EQ(c.rope.theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.is_moe);
}

TEST(DogeConfig, ExplicitHeadDimAndNullKvHeads) {
  const DogeConfig c = parse_with(R"(, "head_dim": 24, "num_key_value_heads": null)");
  EXPECT_EQ(c.head_dim, 24);
  EXPECT_EQ(c.num_key_value_heads, 4);
}

TEST(DogeConfig, LegacyRopeKeysAndRopeParametersGiveTheSameSettings) {
  const DogeConfig legacy = parse_with(
      R"(, "rope_theta": 5000.0, "rope_scaling": {"type": "dynamic", "factor": 4.0, "original_max_position_embeddings": 2048})");
  const DogeConfig modern =
      parse_with(R"(, "rope_parameters": {"rope_type": "dynamic", "factor": 4.0, "rope_theta": 5000.0})");
  for (const DogeConfig* c : {&legacy, &modern}) {
    EXPECT_EQ(c->rope.type, RopeType::Dynamic);
    EXPECT_DOUBLE_EQ(c->rope.factor, 4.0);
    EXPECT_DOUBLE_EQ(c->rope.theta, 5000.0);
  }
  EXPECT_EQ(parse_with(R"(, "rope_theta": 500, "rope_scaling": null)").rope.type, RopeType::Default);
}

TEST(DogeConfig, FixtureConfigsParse) {
  const DogeConfig gqa = DogeConfig::load(testing::fixtures_dir() / "models/gqa_f32/config.json");
  EXPECT_EQ(gqa.rope.type, RopeType::Dynamic);
  EXPECT_EQ(gqa.num_key_value_heads, 2);
  const DogeConfig moe = DogeConfig::load(testing::fixtures_dir() / "models/moe_sharded_f32/config.json");
  EXPECT_TRUE(moe.is_moe);
  EXPECT_EQ(moe.expert_keys(), 4);
}

TEST(DogeConfig, CheckSizesCatchesAConfigBuiltInCodeWhoseProductWraps) {
  DogeConfig config = parse_with("");
  config.num_attention_heads = config.num_key_value_heads = std::int64_t{1} << 32;
  config.head_dim = std::int64_t{1} << 32;  // H × d = 2^64 = 0 in 64 bits
  try {
    config.check_sizes("built/config.json");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(std::string(error.what()), AllOf(HasSubstr("built/config.json"), HasSubstr("'num_attention_heads'")));
  }
  config.num_attention_heads = config.num_key_value_heads = 1 << 30;
  config.head_dim = 1 << 30;
  config.hidden_size = 1 << 30;  // each in range, the q_proj bytes 2^92 are not
  EXPECT_THROW(config.check_sizes("built/config.json"), Error);
}

struct BadConfig {
  const char* name;
  std::string json;
  std::vector<std::string> message_parts;
};

class MalformedConfig : public ::testing::TestWithParam<BadConfig> {};

TEST_P(MalformedConfig, IsRefusedWithAMessageNamingFileAndKey) {
  const std::string message = error_of(GetParam().json);
  EXPECT_THAT(message, HasSubstr("test/config.json"));
  for (const auto& part : GetParam().message_parts) EXPECT_THAT(message, HasSubstr(part));
}

const std::string kTail = R"(, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4})";

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedConfig,
    ::testing::Values(
        BadConfig{"NotJson", "{\"vocab_size\": 1,", {"not valid JSON"}},
        BadConfig{"NotAnObject", "[1, 2]", {"JSON object"}},
        BadConfig{"NumberOutOfRange", "{\"vocab_size\": 1e999}", {"not valid JSON"}},
        BadConfig{"MissingHiddenSize", R"({"vocab_size": 100)" + kTail, {"'hidden_size'", "missing"}},
        BadConfig{"HiddenSizeIsString", R"({"vocab_size": 100, "hidden_size": "64")" + kTail,
                  {"'hidden_size'", "integer", "string"}},
        BadConfig{"HiddenSizeIsFloat", R"({"vocab_size": 100, "hidden_size": 64.5)" + kTail, {"'hidden_size'", "integer"}},
        BadConfig{"NegativeVocab", R"({"vocab_size": -3, "hidden_size": 64)" + kTail, {"'vocab_size'", "positive"}},
        BadConfig{"TieIsString", std::string(kMinimal) + R"(, "tie_word_embeddings": "yes"})",
                  {"'tie_word_embeddings'", "boolean"}},
        BadConfig{"EpsIsString", std::string(kMinimal) + R"(, "rms_norm_eps": "1e-6"})", {"'rms_norm_eps'", "number"}},
        BadConfig{"KvHeadsDoNotDivide", std::string(kMinimal) + R"(, "num_key_value_heads": 3})",
                  {"num_key_value_heads"}},
        BadConfig{"HeadDimOdd", std::string(kMinimal) + R"(, "head_dim": 7})", {"head_dim", "even"}},
        BadConfig{"UnknownRopeType", std::string(kMinimal) + R"(, "rope_parameters": {"rope_type": "yarn"}})",
                  {"rope_parameters.rope_type", "yarn"}},
        BadConfig{"DynamicRopeWithoutFactor",
                  std::string(kMinimal) + R"(, "rope_scaling": {"type": "dynamic"}})", {"rope_scaling.factor"}},
        BadConfig{"RopeScalingNotObject", std::string(kMinimal) + R"(, "rope_scaling": 4})", {"'rope_scaling'"}},
        BadConfig{"WrongModelType", std::string(kMinimal) + R"(, "model_type": "llama"})", {"model_type", "llama"}},
        BadConfig{"UnsupportedActivation", std::string(kMinimal) + R"(, "hidden_act": "gelu"})", {"hidden_act", "gelu"}},
        BadConfig{"SlidingWindowSet", std::string(kMinimal) + R"(, "sliding_window": 128})", {"sliding_window"}},
        BadConfig{"ZeroWindow", std::string(kMinimal) + R"(, "keep_window_size": 0})", {"keep_window_size"}},
        // Integers are reported as written, never as what a wrapped conversion made of them.
        BadConfig{"VocabAboveInt64", R"({"vocab_size": 18446744073709551615, "hidden_size": 64)" + kTail,
                  {"'vocab_size'", "18446744073709551615"}},
        BadConfig{"VocabAsLargeFloat", R"({"vocab_size": 2.5e10, "hidden_size": 64)" + kTail,
                  {"'vocab_size'", "integer", "25000000000"}},
        BadConfig{"WindowAboveInt32", std::string(kMinimal) + R"(, "keep_window_size": 25000000000})",
                  {"'keep_window_size'", "25000000000", "largest supported"}},
        BadConfig{"HeadsTimesHeadDimWrapsToZero",
                  R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                      "num_attention_heads": 4294967296, "head_dim": 4294967296})",
                  {"'num_attention_heads'", "4294967296"}},
        BadConfig{"ProjectionBytesOverflow",
                  R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                      "num_attention_heads": 2147483647, "head_dim": 2147483646})",
                  {"num_attention_heads × head_dim × hidden_size", "2147483647 × 2147483646 × 64", "overflows"}},
        BadConfig{"RopeThetaTooSmallForFloat32", std::string(kMinimal) + R"(, "rope_theta": 1e-300})",
                  {"rope_theta", "1e-300", "overflow float32"}},
        BadConfig{"MoeTooManyExpertsPerToken",
                  std::string(kMinimal) + R"(, "is_moe": true, "num_experts": 16, "num_experts_per_tok": 17})",
                  {"num_experts_per_tok"}}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dmascope
