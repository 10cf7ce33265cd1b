// A Doge model's config.json, read strictly: every key transformers 5.17's DogeConfig knows, its defaults, the legacy
// rope keys (rope_theta + rope_scaling) beside rope_parameters, and errors that name the key that is missing or wrong.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace dmascope {

enum class RopeType { Default, Linear, Dynamic };
std::string_view rope_type_name(RopeType type);

struct RopeSettings {
  RopeType type = RopeType::Default;
  double theta = 10000.0;
  double factor = 1.0;  // linear and dynamic scaling only
};

struct DogeConfig {
  // Shape-defining keys have no safe default (a default would silently disagree with the weights): required.
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  // Defaults below are transformers 5.17's.
  std::int64_t num_key_value_heads = 0;  // absent or null: = num_attention_heads
  std::int64_t head_dim = 0;             // absent or null: hidden_size / num_attention_heads
  std::int64_t max_position_embeddings = 2048;
  std::int64_t keep_window_size = 2048;  // the DMA budget w: each query row keeps its w best keys
  double rms_norm_eps = 1e-6;
  std::string hidden_act = "silu";
  bool attention_bias = false;
  bool mlp_bias = false;
  bool tie_word_embeddings = false;
  bool is_moe = false;
  std::int64_t num_experts = 16384;
  std::int64_t num_experts_per_tok = 64;
  bool norm_topk_prob = false;
  RopeSettings rope;
  std::optional<std::int64_t> bos_token_id, eos_token_id, pad_token_id;
  std::string torch_dtype;  // informational: the dtype the checkpoint was saved in, if the config says

  std::int64_t kv_group_size() const { return num_attention_heads / num_key_value_heads; }
  std::int64_t expert_keys() const;  // CDMoE: K = floor(sqrt(num_experts))

  // Every integer in range (positive, at most 2^31 − 1) and every tensor size the keys multiply to representable:
  // parse() ends with it, and the weight loader repeats it for configs built in code. Errors start with `source_name`.
  void check_sizes(std::string_view source_name) const;

  static DogeConfig parse(std::string_view json_text, std::string_view source_name);
  static DogeConfig load(const std::filesystem::path& config_json);
};

}  // namespace dmascope
