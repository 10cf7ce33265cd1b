#include "core/model/doge_weights.h"

#include <cmath>
#include <set>

#include "core/formats/checkpoint_files.h"
#include "core/base/error.h"
#include "core/base/printable.h"

namespace dmascope {

std::string_view weight_layout_name(WeightLayout layout) {
  return layout == WeightLayout::Transformers ? "transformers (q/k norm, bias per kv head)"
                                              : "small-doge (no q/k norm, bias per query head)";
}

namespace {

// Reads tensors by name, checking shapes and values, and remembers which names were used so that leftovers can be
// reported as an unknown layout.
class WeightReader {
 public:
  WeightReader(const CheckpointFiles& files) : files_(files) {}

  bool has(const std::string& name) const { return files_.find(name) != nullptr; }

  Shape shape_of(const std::string& name) const {
    const TensorEntry* entry = files_.find(name);
    return entry ? entry->shape : Shape{};
  }

  Tensor read(const std::string& name, const Shape& expected) {
    const TensorEntry* entry = files_.find(name);
    if (!entry) fail("{}: tensor '{}' is missing (expected shape {})", printable(files_.dir().string()), name, shape_str(expected));
    if (entry->shape != expected)
      fail("{}: tensor '{}' has shape {}, expected {}", files_.file_of(name).string(), name, shape_str(entry->shape),
           shape_str(expected));
    if (entry->dtype != DType::F32 && entry->dtype != DType::BF16 && entry->dtype != DType::F16)
      fail("{}: tensor '{}' is {}, expected F32, BF16 or F16", files_.file_of(name).string(), name,
           dtype_name(entry->dtype));
    used_.insert(name);
    dtypes_.insert(std::string(dtype_name(entry->dtype)));
    // Read, not mapped: the forward runs long after loading, and a checkpoint truncated in the meantime must give
    // an Error here, not SIGBUS inside a projection. An owned copy is always float-aligned.
    const Tensor stored = files_.read_tensor(name);
    const Tensor values = stored.dtype() == DType::F32 ? stored : stored.to(DType::F32);
    check_finite(values, name);
    parameters_ += values.numel();
    return values;
  }

  Tensor read_optional(const std::string& name, const Shape& expected, bool wanted) {
    if (!wanted) return {};
    return read(name, expected);
  }

  std::vector<std::string> unused() const {
    std::vector<std::string> names;
    for (const auto& name : files_.names())
      if (!used_.count(name) && name.find("rotary_emb.inv_freq") == std::string::npos) names.push_back(name);
    return names;
  }

  std::int64_t parameters() const { return parameters_; }
  std::vector<std::string> dtypes() const { return {dtypes_.begin(), dtypes_.end()}; }

 private:
  void check_finite(const Tensor& values, const std::string& name) const {
    const float* data = values.data<float>();
    std::int64_t nan_count = 0, inf_count = 0;
    for (std::int64_t i = 0; i < values.numel(); ++i) {
      nan_count += std::isnan(data[i]);
      inf_count += std::isinf(data[i]);
    }
    if (nan_count || inf_count)
      fail("{}: tensor '{}' holds {} NaN and {} infinite values", files_.file_of(name).string(), name, nan_count,
           inf_count);
  }

  const CheckpointFiles& files_;
  std::set<std::string> used_;
  std::set<std::string> dtypes_;
  std::int64_t parameters_ = 0;
};

std::string describe_found(const CheckpointFiles& files, const std::string& prefix) {
  std::string found;
  for (const auto& name : files.names())
    if (name.rfind(prefix, 0) == 0) found += fmt::format("\n  {} {}", name, shape_str(files.find(name)->shape));
  return found.empty() ? " (none)" : found;
}

WeightLayout detect_layout(const WeightReader& reader, const CheckpointFiles& files, const DogeConfig& config) {
  const std::int64_t H = config.num_attention_heads, Hkv = config.num_key_value_heads, d = config.head_dim;
  const std::string attention = "model.layers.0.self_attn.";
  if (!reader.has("model.embed_tokens.weight"))
    fail("{}: unknown weight layout: no 'model.embed_tokens.weight' (very old Doge uploads use "
         "'model.word_embed.weight' and are not supported). Tensors found:{}",
         printable(files.dir().string()), describe_found(files, ""));
  const bool has_qk_norm = reader.has(attention + "q_norm.weight") && reader.has(attention + "k_norm.weight");
  const Shape a_shape = reader.shape_of(attention + "A");
  const Shape dt_shape = reader.shape_of(attention + "dt_proj.weight");
  if (has_qk_norm && a_shape == Shape{Hkv} && dt_shape == Shape{Hkv, Hkv * d}) return WeightLayout::Transformers;
  if (!has_qk_norm && a_shape == Shape{H} && dt_shape == Shape{H, Hkv * d}) return WeightLayout::SmallDoge;
  fail("{}: unknown weight layout for layer 0. Expected either\n"
       "  transformers: self_attn.q_norm.weight [{}], self_attn.k_norm.weight [{}], self_attn.A [{}], "
       "self_attn.dt_proj.weight [{}, {}]\n"
       "  small-doge:   no q_norm/k_norm, self_attn.A [{}], self_attn.dt_proj.weight [{}, {}]\n"
       "found:{}",
       printable(files.dir().string()), d, d, Hkv, Hkv, Hkv * d, H, H, Hkv * d, describe_found(files, attention));
}

}  // namespace

DogeWeights load_doge_weights(const CheckpointFiles& files, const DogeConfig& config) {
  // Shapes below multiply config integers; a config built in code has not been through parse(): check it again here.
  config.check_sizes((files.dir() / "config.json").string());
  WeightReader reader(files);
  DogeWeights weights;
  weights.layout = detect_layout(reader, files, config);
  const std::int64_t V = config.vocab_size, D = config.hidden_size, I = config.intermediate_size;
  const std::int64_t H = config.num_attention_heads, Hkv = config.num_key_value_heads, d = config.head_dim;
  const bool transformers_layout = weights.layout == WeightLayout::Transformers;
  weights.bias_heads = transformers_layout ? Hkv : H;
  const std::int64_t Hb = weights.bias_heads;

  weights.embed = reader.read("model.embed_tokens.weight", {V, D});
  weights.final_norm = reader.read("model.norm.weight", {D});
  if (reader.has("lm_head.weight")) {
    weights.lm_head = reader.read("lm_head.weight", {V, D});
  } else if (config.tie_word_embeddings) {
    weights.lm_head = weights.embed;
    weights.lm_head_tied = true;
  } else {
    fail("{}: tensor 'lm_head.weight' is missing and config.json has tie_word_embeddings = false",
         printable(files.dir().string()));
  }

  const bool attention_bias = config.attention_bias, mlp_bias = config.mlp_bias;
  for (std::int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string p = fmt::format("model.layers.{}.", layer);
    DogeLayerWeights w;
    w.input_norm = reader.read(p + "input_layernorm.weight", {D});
    w.q_proj = reader.read(p + "self_attn.q_proj.weight", {H * d, D});
    w.k_proj = reader.read(p + "self_attn.k_proj.weight", {Hkv * d, D});
    w.v_proj = reader.read(p + "self_attn.v_proj.weight", {Hkv * d, D});
    w.o_proj = reader.read(p + "self_attn.o_proj.weight", {D, H * d});
    w.q_proj_bias = reader.read_optional(p + "self_attn.q_proj.bias", {H * d}, attention_bias);
    w.k_proj_bias = reader.read_optional(p + "self_attn.k_proj.bias", {Hkv * d}, attention_bias);
    w.v_proj_bias = reader.read_optional(p + "self_attn.v_proj.bias", {Hkv * d}, attention_bias);
    w.o_proj_bias = reader.read_optional(p + "self_attn.o_proj.bias", {D}, attention_bias);
    w.dt_proj_bias = reader.read_optional(p + "self_attn.dt_proj.bias", {Hb}, attention_bias);
    w.q_norm = reader.read_optional(p + "self_attn.q_norm.weight", {d}, transformers_layout);
    w.k_norm = reader.read_optional(p + "self_attn.k_norm.weight", {d}, transformers_layout);
    w.A = reader.read(p + "self_attn.A", {Hb});
    w.dt_proj = reader.read(p + "self_attn.dt_proj.weight", {Hb, Hkv * d});
    w.input_residual = reader.read(p + "input_residual", {D});
    w.post_norm = reader.read(p + "post_attention_layernorm.weight", {D});
    w.gate_proj = reader.read(p + "mlp.gate_proj.weight", {I, D});
    w.up_proj = reader.read(p + "mlp.up_proj.weight", {I, D});
    w.down_proj = reader.read(p + "mlp.down_proj.weight", {D, I});
    w.gate_proj_bias = reader.read_optional(p + "mlp.gate_proj.bias", {I}, mlp_bias);
    w.up_proj_bias = reader.read_optional(p + "mlp.up_proj.bias", {I}, mlp_bias);
    w.down_proj_bias = reader.read_optional(p + "mlp.down_proj.bias", {D}, mlp_bias);
    if (config.is_moe) {
      const std::int64_t K = config.expert_keys(), E = config.num_experts;
      w.router_gate = reader.read(p + "mlp.router_gate.weight", {2 * K, D});
      w.down_embed = reader.read(p + "mlp.down_embed.weight", {E, D});
      w.up_embed = reader.read(p + "mlp.up_embed.weight", {E, D});
    }
    w.post_residual = reader.read(p + "post_attention_residual", {D});
    weights.layers.push_back(std::move(w));
  }

  if (auto extra = reader.unused(); !extra.empty()) {
    std::string listed;
    for (std::size_t i = 0; i < extra.size() && i < 12; ++i) listed += "\n  " + extra[i];
    if (extra.size() > 12) listed += fmt::format("\n  ... and {} more", extra.size() - 12);
    fail("{}: unknown weight layout: {} tensor(s) that a {}-layer {} Doge{} does not have:{}", printable(files.dir().string()),
         extra.size(), config.num_hidden_layers, weight_layout_name(weights.layout), config.is_moe ? " (CDMoE)" : "",
         listed);
  }
  weights.parameter_count = reader.parameters();
  weights.stored_dtypes = reader.dtypes();
  return weights;
}

DogeModel DogeModel::load(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) fail("{}: not a model directory", printable(dir.string()));
  DogeModel model;
  model.dir = dir;
  model.config = DogeConfig::load(dir / "config.json");
  const CheckpointFiles files = CheckpointFiles::open(dir);
  model.weights = load_doge_weights(files, model.config);
  model.has_tokenizer = std::filesystem::exists(dir / "tokenizer.json");
  return model;
}

}  // namespace dmascope
