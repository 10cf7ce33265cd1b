#include "core/model/random_model.h"

#include <nlohmann/json.hpp>
#include <cmath>
#include <random>

#include "core/formats/atomic_write.h"
#include "core/base/error.h"
#include "core/formats/safetensors.h"

namespace dmascope {

namespace {

// The published SmallDoge dense models (research/dma-spec.md §3.6). Common to all: vocab 32768, head_dim 128, RoPE θ
// 10000 with dynamic scaling ×4, tied embeddings, keep_window_size 2048, max_position_embeddings 2048, rms_norm_eps
// 1e-6, SiLU, no biases, dense MLP (the published configs set no CDMoE). Written in the transformers 5.x layout (q/k
// norms, A and dt_proj per kv head); the uploads of 60M..320M still use the older per-query-head layout, which has
// the same shapes otherwise.
struct PublishedShape {
  const char* name;
  std::int64_t hidden, intermediate, layers, heads, kv_heads;
};
constexpr PublishedShape kPublishedShapes[] = {
    {"doge-20m", 256, 512, 8, 2, 1},
    {"doge-60m", 512, 1024, 16, 4, 2},
    {"doge-160m", 768, 1536, 24, 6, 3},
    {"doge-320m", 1024, 2048, 32, 8, 4},
};

}  // namespace

std::vector<std::string> random_model_preset_names() {
  std::vector<std::string> names = {"tiny"};
  for (const PublishedShape& shape : kPublishedShapes) names.emplace_back(shape.name);
  return names;
}

DogeConfig random_model_preset(const std::string& name) {
  DogeConfig c;
  if (name == "tiny") {
    c.vocab_size = 512;
    c.hidden_size = 64;
    c.intermediate_size = 128;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.head_dim = 16;
    c.keep_window_size = 64;
    return c;
  }
  for (const PublishedShape& shape : kPublishedShapes) {
    if (name != shape.name) continue;
    c.vocab_size = 32768;
    c.hidden_size = shape.hidden;
    c.intermediate_size = shape.intermediate;
    c.num_hidden_layers = shape.layers;
    c.num_attention_heads = shape.heads;
    c.num_key_value_heads = shape.kv_heads;
    c.head_dim = 128;
    c.max_position_embeddings = 2048;
    c.keep_window_size = 2048;
    c.rms_norm_eps = 1e-6;
    c.tie_word_embeddings = true;
    c.is_moe = false;
    c.rope = {RopeType::Dynamic, 10000.0, 4.0};
    return c;
  }
  fail("unknown model preset '{}' (expected tiny, doge-20m, doge-60m, doge-160m or doge-320m)", name);
}

namespace {

nlohmann::json config_json(const DogeConfig& c) {
  nlohmann::json rope = {{"rope_type", std::string(rope_type_name(c.rope.type))}, {"rope_theta", c.rope.theta}};
  if (c.rope.type != RopeType::Default) rope["factor"] = c.rope.factor;
  return {{"architectures", {"DogeForCausalLM"}}, {"model_type", "doge"}, {"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size}, {"intermediate_size", c.intermediate_size},
          {"num_hidden_layers", c.num_hidden_layers}, {"num_attention_heads", c.num_attention_heads},
          {"num_key_value_heads", c.num_key_value_heads}, {"head_dim", c.head_dim},
          {"max_position_embeddings", c.max_position_embeddings}, {"keep_window_size", c.keep_window_size},
          {"rms_norm_eps", c.rms_norm_eps}, {"hidden_act", "silu"}, {"tie_word_embeddings", c.tie_word_embeddings},
          {"is_moe", false}, {"rope_parameters", rope}};
}

}  // namespace

void write_random_doge(const std::filesystem::path& dir, const DogeConfig& c, DType dtype, std::uint64_t seed,
                       bool force) {
  if (dtype != DType::F32 && dtype != DType::BF16) fail("random model dtype must be F32 or BF16");
  const OutputRule rule{.force = force, .inputs = {}};
  check_output_target(dir / "model.safetensors", rule);
  check_output_target(dir / "config.json", rule);
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::pair<std::string, Tensor>> tensors;
  auto add = [&](const std::string& name, Shape shape, float mean, float stddev) {
    Tensor t = Tensor::zeros(DType::F32, std::move(shape));
    float* values = t.mutable_data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) values[i] = mean + stddev * normal(rng);
    tensors.emplace_back(name, t.to(dtype));
  };
  const std::int64_t D = c.hidden_size, I = c.intermediate_size, H = c.num_attention_heads,
                     Hkv = c.num_key_value_heads, d = c.head_dim;
  const float proj = 1.0f / std::sqrt(static_cast<float>(D));
  add("model.embed_tokens.weight", {c.vocab_size, D}, 0.0f, 1.0f);
  for (std::int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    const std::string p = fmt::format("model.layers.{}.", layer);
    add(p + "input_layernorm.weight", {D}, 1.0f, 0.1f);
    add(p + "self_attn.q_proj.weight", {H * d, D}, 0.0f, proj);
    add(p + "self_attn.k_proj.weight", {Hkv * d, D}, 0.0f, proj);
    add(p + "self_attn.v_proj.weight", {Hkv * d, D}, 0.0f, proj);
    add(p + "self_attn.q_norm.weight", {d}, 1.0f, 0.1f);
    add(p + "self_attn.k_norm.weight", {d}, 1.0f, 0.1f);
    add(p + "self_attn.A", {Hkv}, 0.0f, 1.5f);
    add(p + "self_attn.dt_proj.weight", {Hkv, Hkv * d}, 0.0f, 1.0f / std::sqrt(static_cast<float>(Hkv * d)));
    add(p + "self_attn.o_proj.weight", {D, H * d}, 0.0f, 1.0f / std::sqrt(static_cast<float>(H * d)));
    add(p + "input_residual", {D}, 1.0f, 0.0f);
    add(p + "post_attention_layernorm.weight", {D}, 1.0f, 0.1f);
    add(p + "mlp.gate_proj.weight", {I, D}, 0.0f, proj);
    add(p + "mlp.up_proj.weight", {I, D}, 0.0f, proj);
    add(p + "mlp.down_proj.weight", {D, I}, 0.0f, 1.0f / std::sqrt(static_cast<float>(I)));
    add(p + "post_attention_residual", {D}, 1.0f, 0.0f);
  }
  add("model.norm.weight", {D}, 1.0f, 0.1f);
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, D}, 0.0f, proj);
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}, {"producer", "dmascope random model"}},
                    rule);
  write_file_atomically(dir / "config.json", config_json(c).dump(2) + "\n", rule);
}

}  // namespace dmascope
