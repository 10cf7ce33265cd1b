#include "core/model/doge_config.h"

#include <cmath>
#include <initializer_list>
#include <limits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/checked_math.h"
#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"
#include "core/formats/json_kind.h"

namespace dmascope {

namespace {

using nlohmann::json;

// Typed readers: each names the file and the key in its error.
class ConfigReader {
 public:
  ConfigReader(const json& root, std::string_view source) : root_(root), source_(source) {}

  const json* find(std::string_view key) const {
    auto it = root_.find(std::string(key));
    return it == root_.end() ? nullptr : &*it;
  }

  std::int64_t required_int(std::string_view key) const {
    const json* value = find(key);
    if (!value || value->is_null()) fail("{}: required key '{}' is missing", source_, key);
    return as_int(*value, key);
  }

  std::int64_t int_or(std::string_view key, std::int64_t fallback) const {
    const json* value = find(key);
    return value && !value->is_null() ? as_int(*value, key) : fallback;
  }

  std::optional<std::int64_t> optional_int(std::string_view key) const {
    const json* value = find(key);
    if (!value || value->is_null()) return std::nullopt;
    return as_int(*value, key);
  }

  double number_or(std::string_view key, double fallback) const {
    const json* value = find(key);
    if (!value || value->is_null()) return fallback;
    return as_number(*value, key);
  }

  bool bool_or(std::string_view key, bool fallback) const {
    const json* value = find(key);
    if (!value || value->is_null()) return fallback;
    if (!value->is_boolean()) fail("{}: key '{}' must be a boolean, got {}", source_, key, json_kind(*value));
    return value->get<bool>();
  }

  std::string string_or(std::string_view key, std::string fallback) const {
    const json* value = find(key);
    if (!value || value->is_null()) return fallback;
    if (!value->is_string()) fail("{}: key '{}' must be a string, got {}", source_, key, json_kind(*value));
    return value->get<std::string>();
  }

  // The value as written in the error: nlohmann would hand 2^64 − 1 over as −1 and a float cast would turn 2.5e10 into
  // −2147483648, so an integer that does not fit int64 is refused here, before any conversion.
  std::int64_t as_int(const json& value, std::string_view key) const {
    if (!value.is_number_integer())
      fail("{}: key '{}' must be an integer, got {} {}", source_, key, json_kind(value), excerpt(value));
    if (value.is_number_unsigned() &&
        value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail("{}: key '{}' is {}, larger than any size dmascope supports", source_, key, value.get<std::uint64_t>());
    return value.get<std::int64_t>();
  }

  double as_number(const json& value, std::string_view key) const {
    if (!value.is_number()) fail("{}: key '{}' must be a number, got {}", source_, key, json_kind(value));
    return value.get<double>();
  }

  static std::string excerpt(const json& value) {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    return text.size() > 40 ? text.substr(0, 37) + "..." : text;
  }

  std::string_view source() const { return source_; }

 private:
  const json& root_;
  std::string_view source_;
};

RopeType parse_rope_type(std::string_view name, std::string_view source, std::string_view key) {
  if (name == "default") return RopeType::Default;
  if (name == "linear") return RopeType::Linear;
  if (name == "dynamic") return RopeType::Dynamic;
  fail("{}: {} '{}' is not supported (supported: default, linear, dynamic)", source, key, name);
}

// rope_parameters (transformers 5.x) wins; else the legacy pair rope_theta + rope_scaling that hub configs carry.
RopeSettings parse_rope(const ConfigReader& reader) {
  RopeSettings rope;
  const std::string_view source = reader.source();
  const json* parameters = reader.find("rope_parameters");
  const json* legacy_scaling = reader.find("rope_scaling");
  const json* scaling = nullptr;
  std::string_view scaling_key;
  if (parameters && !parameters->is_null()) {
    if (!parameters->is_object())
      fail("{}: key 'rope_parameters' must be an object, got {}", source, json_kind(*parameters));
    scaling = parameters;
    scaling_key = "rope_parameters";
    if (auto it = parameters->find("rope_theta"); it != parameters->end())
      rope.theta = reader.as_number(*it, "rope_parameters.rope_theta");
  } else {
    rope.theta = reader.number_or("rope_theta", 10000.0);
    if (legacy_scaling && !legacy_scaling->is_null()) {
      if (!legacy_scaling->is_object())
        fail("{}: key 'rope_scaling' must be an object or null, got {}", source, json_kind(*legacy_scaling));
      scaling = legacy_scaling;
      scaling_key = "rope_scaling";
    }
  }
  if (scaling) {
    const std::string type_key = fmt::format("{}.rope_type", scaling_key);
    auto type_it = scaling->find("rope_type");
    if (type_it == scaling->end()) type_it = scaling->find("type");
    if (type_it != scaling->end()) {
      if (!type_it->is_string())
        fail("{}: key '{}' must be a string, got {}", source, type_key, json_kind(*type_it));
      rope.type = parse_rope_type(type_it->get<std::string>(), source, type_key);
    }
    if (rope.type != RopeType::Default) {
      auto factor_it = scaling->find("factor");
      const std::string factor_key = fmt::format("{}.factor", scaling_key);
      if (factor_it == scaling->end()) fail("{}: required key '{}' is missing", source, factor_key);
      rope.factor = reader.as_number(*factor_it, factor_key);
      if (!(rope.factor >= 1.0)) fail("{}: key '{}' must be >= 1, got {}", source, factor_key, rope.factor);
    }
  }
  if (!(rope.theta > 0.0) || !std::isfinite(rope.theta)) fail("{}: rope_theta must be positive, got {}", source, rope.theta);
  if (!std::isfinite(rope.factor)) fail("{}: the rope scaling factor must be finite, got {}", source, rope.factor);
  return rope;
}

// The largest extent a config may give: token ids, death indices and the kernels' sizes are 32-bit integers.
constexpr std::int64_t kMaxConfigExtent = std::numeric_limits<std::int32_t>::max();

void require_positive(std::string_view source, std::string_view key, std::int64_t value) {
  if (value <= 0) fail("{}: key '{}' must be positive, got {}", source, key, value);
  if (value > kMaxConfigExtent)
    fail("{}: key '{}' is {}, more than the largest supported value {} (token ids and kernel sizes are 32-bit)",
         source, key, value, kMaxConfigExtent);
}

struct Factor {
  std::string_view name;
  std::int64_t value;
};

// The product of config integers, or an error naming every factor when it does not fit int64.
std::int64_t checked_product(std::string_view source, std::initializer_list<Factor> factors) {
  std::int64_t product = 1;
  bool overflow = false;
  for (const Factor& factor : factors) {
    const auto next = checked_mul(product, factor.value);
    overflow = overflow || !next;
    product = next.value_or(0);
  }
  if (!overflow) return product;
  std::string names, values;
  for (const Factor& factor : factors) {
    names += fmt::format("{}{}", names.empty() ? "" : " × ", factor.name);
    values += fmt::format("{}{}", values.empty() ? "" : " × ", factor.value);
  }
  fail("{}: {} = {} overflows 64-bit integers: the config describes tensors larger than any machine holds", source,
       names, values);
}

}  // namespace

std::string_view rope_type_name(RopeType type) {
  switch (type) {
    case RopeType::Default: return "default";
    case RopeType::Linear: return "linear";
    case RopeType::Dynamic: return "dynamic";
  }
  return "?";
}

std::int64_t DogeConfig::expert_keys() const {
  return static_cast<std::int64_t>(std::floor(std::sqrt(static_cast<double>(num_experts))));
}

DogeConfig DogeConfig::parse(std::string_view json_text, std::string_view source) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& error) {  // parse_error, and out_of_range for numbers too large (found by fuzzing)
    fail("{}: not valid JSON ({})", source, error.what());
  }
  if (!root.is_object()) fail("{}: expected a JSON object at the top level, got {}", source, json_kind(root));
  ConfigReader reader(root, source);

  const std::string model_type = reader.string_or("model_type", "doge");
  if (model_type != "doge") fail("{}: model_type is '{}', expected 'doge'", source, model_type);

  DogeConfig config;
  config.vocab_size = reader.required_int("vocab_size");
  config.hidden_size = reader.required_int("hidden_size");
  config.intermediate_size = reader.required_int("intermediate_size");
  config.num_hidden_layers = reader.required_int("num_hidden_layers");
  config.num_attention_heads = reader.required_int("num_attention_heads");
  for (auto [key, value] : {std::pair{"vocab_size", config.vocab_size}, {"hidden_size", config.hidden_size},
                            {"intermediate_size", config.intermediate_size},
                            {"num_hidden_layers", config.num_hidden_layers},
                            {"num_attention_heads", config.num_attention_heads}})
    require_positive(source, key, value);

  config.num_key_value_heads = reader.int_or("num_key_value_heads", config.num_attention_heads);
  require_positive(source, "num_key_value_heads", config.num_key_value_heads);
  if (config.num_attention_heads % config.num_key_value_heads != 0)
    fail("{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", source,
         config.num_attention_heads, config.num_key_value_heads);
  if (reader.optional_int("head_dim")) {
    config.head_dim = *reader.optional_int("head_dim");
  } else {
    if (config.hidden_size % config.num_attention_heads != 0)
      fail("{}: hidden_size ({}) is not divisible by num_attention_heads ({}) and no head_dim is given", source,
           config.hidden_size, config.num_attention_heads);
    config.head_dim = config.hidden_size / config.num_attention_heads;
  }
  require_positive(source, "head_dim", config.head_dim);
  if (config.head_dim % 2 != 0) fail("{}: head_dim must be even for rotary embeddings, got {}", source, config.head_dim);

  config.max_position_embeddings = reader.int_or("max_position_embeddings", 2048);
  require_positive(source, "max_position_embeddings", config.max_position_embeddings);
  config.keep_window_size = reader.int_or("keep_window_size", 2048);
  require_positive(source, "keep_window_size", config.keep_window_size);
  config.rms_norm_eps = reader.number_or("rms_norm_eps", 1e-6);
  if (!(config.rms_norm_eps > 0.0) || !std::isfinite(config.rms_norm_eps))
    fail("{}: rms_norm_eps must be positive and finite, got {}", source, config.rms_norm_eps);
  config.hidden_act = reader.string_or("hidden_act", "silu");
  if (config.hidden_act != "silu")
    fail("{}: hidden_act '{}' is not supported (Doge uses 'silu')", source, config.hidden_act);
  config.attention_bias = reader.bool_or("attention_bias", false);
  config.mlp_bias = reader.bool_or("mlp_bias", false);
  config.tie_word_embeddings = reader.bool_or("tie_word_embeddings", false);
  config.is_moe = reader.bool_or("is_moe", false);
  config.num_experts = reader.int_or("num_experts", 16384);
  config.num_experts_per_tok = reader.int_or("num_experts_per_tok", 64);
  config.norm_topk_prob = reader.bool_or("norm_topk_prob", false);
  if (config.is_moe) {
    require_positive(source, "num_experts", config.num_experts);
    require_positive(source, "num_experts_per_tok", config.num_experts_per_tok);
    const std::int64_t keys = config.expert_keys();
    if (config.num_experts_per_tok > keys * keys)
      fail("{}: num_experts_per_tok ({}) exceeds the {} experts reachable by product-key routing", source,
           config.num_experts_per_tok, keys * keys);
  }
  if (const json* window = reader.find("sliding_window"); window && !window->is_null())
    fail("{}: sliding_window = {} is not supported: a sliding window before DMA breaks the one-interval-per-key mask",
         source, window->dump());
  config.rope = parse_rope(reader);
  // RoPE rotates pair i by position × theta^(−2i/d), computed in float32 as transformers does (rope.cpp): a theta
  // below float32's range becomes 0 there, the rate 1/0 = inf and every rotated value NaN. The fastest pair
  // (i = d/2 − 1) is the one to check.
  const float fastest_rate = 1.0f / std::pow(static_cast<float>(config.rope.theta),
                                             static_cast<float>(config.head_dim - 2) / static_cast<float>(config.head_dim));
  if (!std::isfinite(fastest_rate))
    fail("{}: rope_theta {} is too small: the rotary frequencies overflow float32 for head_dim {}", source,
         config.rope.theta, config.head_dim);
  config.bos_token_id = reader.optional_int("bos_token_id");
  config.eos_token_id = reader.optional_int("eos_token_id");
  config.pad_token_id = reader.optional_int("pad_token_id");
  config.torch_dtype = reader.string_or("dtype", reader.string_or("torch_dtype", ""));
  config.check_sizes(source);
  return config;
}

void DogeConfig::check_sizes(std::string_view source) const {
  for (auto [key, value] : {std::pair{"vocab_size", vocab_size}, {"hidden_size", hidden_size},
                            {"intermediate_size", intermediate_size}, {"num_hidden_layers", num_hidden_layers},
                            {"num_attention_heads", num_attention_heads}, {"num_key_value_heads", num_key_value_heads},
                            {"head_dim", head_dim}, {"max_position_embeddings", max_position_embeddings},
                            {"keep_window_size", keep_window_size}})
    require_positive(source, key, value);
  if (num_attention_heads % num_key_value_heads != 0)
    fail("{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", source, num_attention_heads,
         num_key_value_heads);
  // Every tensor's byte count as the float32 copy the forward works on (4 bytes an element). The small-doge dt_proj
  // [H, Hkv·d] is the one product of three config integers; the others are [rows, D] matrices.
  const Factor H{"num_attention_heads", num_attention_heads}, Hkv{"num_key_value_heads", num_key_value_heads};
  const Factor d{"head_dim", head_dim}, D{"hidden_size", hidden_size}, bytes{"4 bytes", 4};
  checked_product(source, {{"vocab_size", vocab_size}, D, bytes});
  checked_product(source, {{"intermediate_size", intermediate_size}, D, bytes});
  checked_product(source, {H, d, D, bytes});
  checked_product(source, {Hkv, d, D, bytes});
  checked_product(source, {H, Hkv, d, bytes});
  if (is_moe) {
    require_positive(source, "num_experts", num_experts);
    require_positive(source, "num_experts_per_tok", num_experts_per_tok);
    checked_product(source, {{"num_experts", num_experts}, D, bytes});
  }
}

DogeConfig DogeConfig::load(const std::filesystem::path& config_json) {
  // Real configs are a few kilobytes; the cap only stops a huge or endless file from being read whole.
  constexpr std::uint64_t kMaxConfigBytes = 4ull << 20;
  return parse(read_regular_file(config_json, "the model config", kMaxConfigBytes), printable(config_json.string()));
}

}  // namespace dmascope
