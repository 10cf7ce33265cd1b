// Weight layouts and bad checkpoints: each malformed model is a copy of a fixture with one thing broken, and must be
// refused with a message naming the file and the tensor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "core/formats/checkpoint_files.h"
#include "core/model/doge_weights.h"
#include "core/base/error.h"
#include "core/formats/safetensors.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

using TensorList = std::vector<std::pair<std::string, Tensor>>;

// Copies a single-file fixture model into a scratch folder, letting `edit` change its tensors and config text.
fs::path broken_copy(const std::string& fixture, const std::function<void(TensorList&)>& edit,
                     const std::function<void(std::string&)>& edit_config = nullptr) {
  const fs::path source = testing::fixtures_dir() / "models" / fixture;
  const fs::path dir = testing::scratch_dir() / fixture;
  fs::create_directories(dir);
  const auto file = SafetensorsFile::open(source / "model.safetensors");
  TensorList tensors;
  for (const auto& entry : file->entries()) tensors.emplace_back(entry.name, file->tensor(entry.name));
  edit(tensors);
  write_safetensors(dir / "model.safetensors", tensors);
  std::ifstream in(source / "config.json");
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (edit_config) edit_config(config);
  std::ofstream(dir / "config.json") << config;
  return dir;
}

std::string load_error(const fs::path& dir) {
  try {
    DogeModel::load(dir);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

void remove_tensor(TensorList& tensors, const std::string& name) {
  std::erase_if(tensors, [&](const auto& item) { return item.first == name; });
}

Tensor& tensor_named(TensorList& tensors, const std::string& name) {
  for (auto& [n, t] : tensors)
    if (n == name) return t;
  throw std::runtime_error("no " + name);
}

TEST(DogeWeights, DetectsBothLayoutsAndTheTiedHead) {
  const DogeModel gqa = DogeModel::load(testing::fixtures_dir() / "models/gqa_f32");
  EXPECT_EQ(gqa.weights.layout, WeightLayout::Transformers);
  EXPECT_EQ(gqa.weights.bias_heads, 2);
  EXPECT_FALSE(gqa.weights.lm_head_tied);
  EXPECT_TRUE(gqa.has_tokenizer);
  const DogeModel old = DogeModel::load(testing::fixtures_dir() / "models/oldlayout_f32");
  EXPECT_EQ(old.weights.layout, WeightLayout::SmallDoge);
  EXPECT_EQ(old.weights.bias_heads, 4);
  const DogeModel mha = DogeModel::load(testing::fixtures_dir() / "models/mha_bf16");
  EXPECT_TRUE(mha.weights.lm_head_tied);
  EXPECT_EQ(mha.weights.lm_head.bytes(), mha.weights.embed.bytes()) << "a tied head must not be a copy";
  EXPECT_EQ(mha.weights.stored_dtypes, std::vector<std::string>{"BF16"});
}

// Weights used to be borrowed from the mapping when aligned F32; a checkpoint truncated while loaded then raised
// SIGBUS in the forward. They are owned copies now (see CheckpointTruncatedAfterLoad* in malformed_files_test.cpp).
TEST(DogeWeights, Float32WeightsAreOwnedCopiesNotViewsOfTheMapping) {
  const DogeModel gqa = DogeModel::load(testing::fixtures_dir() / "models/gqa_f32");
  EXPECT_TRUE(gqa.weights.embed.writable()) << "an F32 tensor should be read into owned memory, not mapped";
}

TEST(DogeWeights, ParameterCountMatchesTheConfig) {
  const DogeModel gqa = DogeModel::load(testing::fixtures_dir() / "models/gqa_f32");
  const auto& c = gqa.config;
  const std::int64_t D = c.hidden_size, I = c.intermediate_size, d = c.head_dim, H = c.num_attention_heads,
                     Hkv = c.num_key_value_heads;
  const std::int64_t per_layer = D + H * d * D + 2 * Hkv * d * D + D * H * d + 2 * d + Hkv + Hkv * Hkv * d + D + D +
                                 3 * I * D + D;
  EXPECT_EQ(gqa.weights.parameter_count, 2 * c.vocab_size * D + D + c.num_hidden_layers * per_layer);
}

TEST(MalformedModel, MissingTensorNamesTheTensor) {
  const auto dir = broken_copy("gqa_f32", [](TensorList& t) { remove_tensor(t, "model.layers.1.mlp.up_proj.weight"); });
  const std::string message = load_error(dir);
  EXPECT_THAT(message, HasSubstr("model.layers.1.mlp.up_proj.weight"));
  EXPECT_THAT(message, HasSubstr("missing"));
}

TEST(MalformedModel, WrongShapeNamesTensorAndBothShapes) {
  const auto dir = broken_copy("gqa_f32", [](TensorList& t) {
    tensor_named(t, "model.layers.0.self_attn.o_proj.weight") = Tensor::zeros(DType::F32, {64, 32});
  });
  const std::string message = load_error(dir);
  EXPECT_THAT(message, HasSubstr("model.safetensors"));
  EXPECT_THAT(message, HasSubstr("model.layers.0.self_attn.o_proj.weight"));
  EXPECT_THAT(message, HasSubstr("[64, 32]"));
  EXPECT_THAT(message, HasSubstr("[64, 64]"));
}

TEST(MalformedModel, NanAndInfWeightsAreReportedWithCounts) {
  const auto dir = broken_copy("gqa_f32", [](TensorList& t) {
    Tensor& w = tensor_named(t, "model.layers.0.mlp.gate_proj.weight");
    Tensor copy = w.to(DType::F64).to(DType::F32);
    copy.mutable_data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
    copy.mutable_data<float>()[5] = std::numeric_limits<float>::infinity();
    w = copy;
  });
  const std::string message = load_error(dir);
  EXPECT_THAT(message, HasSubstr("model.layers.0.mlp.gate_proj.weight"));
  EXPECT_THAT(message, HasSubstr("1 NaN and 1 infinite"));
}

TEST(MalformedModel, UnknownLayoutListsExpectedAndFound) {
  const auto dir = broken_copy("gqa_f32", [](TensorList& t) {
    remove_tensor(t, "model.layers.0.self_attn.q_norm.weight");  // no q/k norm, yet A is per kv head: neither layout
  });
  const std::string message = load_error(dir);
  EXPECT_THAT(message, HasSubstr("unknown weight layout"));
  EXPECT_THAT(message, HasSubstr("small-doge"));
  EXPECT_THAT(message, HasSubstr("self_attn.A [2]"));
}

TEST(MalformedModel, UnexpectedExtraTensorIsAnUnknownLayout) {
  const auto dir = broken_copy("gqa_f32", [](TensorList& t) {
    t.emplace_back("model.layers.0.self_attn.rel_pos_bias", Tensor::zeros(DType::F32, {4}));
  });
  EXPECT_THAT(load_error(dir), HasSubstr("model.layers.0.self_attn.rel_pos_bias"));
}

TEST(MalformedModel, UntiedModelWithoutLmHead) {
  const auto dir = broken_copy("gqa_f32", [](TensorList& t) { remove_tensor(t, "lm_head.weight"); });
  const std::string message = load_error(dir);
  EXPECT_THAT(message, HasSubstr("lm_head.weight"));
  EXPECT_THAT(message, HasSubstr("tie_word_embeddings"));
}

TEST(MalformedModel, IntegerWeightDtypeIsRefused) {
  const auto dir = broken_copy("gqa_f32", [](TensorList& t) {
    tensor_named(t, "model.norm.weight") = Tensor::zeros(DType::I64, {64});
  });
  const std::string message = load_error(dir);
  EXPECT_THAT(message, HasSubstr("model.norm.weight"));
  EXPECT_THAT(message, HasSubstr("I64"));
}

TEST(MalformedModel, VeryOldLayoutIsNamed) {
  const auto dir = broken_copy("gqa_f32", [](TensorList& t) {
    for (auto& [name, tensor] : t)
      if (name == "model.embed_tokens.weight") name = "model.word_embed.weight";
  });
  EXPECT_THAT(load_error(dir), HasSubstr("model.word_embed.weight"));
}

TEST(MalformedModel, ConfigDisagreeingWithWeightsNamesTheTensor) {
  const auto dir = broken_copy("gqa_f32", [](TensorList&) {},
                               [](std::string& config) {
                                 auto at = config.find("\"intermediate_size\": 96");
                                 config.replace(at, 23, "\"intermediate_size\": 80");
                               });
  EXPECT_THAT(load_error(dir), HasSubstr("mlp.gate_proj.weight"));
}

TEST(MalformedModel, MissingConfigNamesTheFile) {
  const auto dir = broken_copy("gqa_f32", [](TensorList&) {});
  fs::remove(dir / "config.json");
  EXPECT_THAT(load_error(dir), HasSubstr("config.json"));
}

}  // namespace
}  // namespace dmascope
