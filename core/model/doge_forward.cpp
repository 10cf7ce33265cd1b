#include "core/model/doge_forward.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/base/checked_math.h"
#include "core/base/error.h"
#include "core/model/cdmoe_experts.h"
#include "core/model/forward_memory.h"
#include "core/model/linear.h"
#include "core/base/parallel.h"
#include "core/model/rope.h"

namespace dmascope {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

const float* f32(const Tensor& tensor) { return tensor.defined() && tensor.numel() ? tensor.data<float>() : nullptr; }

Tensor zeros_f32(Shape shape) { return Tensor::zeros(DType::F32, std::move(shape)); }

// x [rows, features] → y = linear(x) as a new [rows, out] buffer.
std::vector<float> project(const std::vector<float>& x, std::int64_t rows, std::int64_t in, const Tensor& weight,
                           const Tensor& bias) {
  const std::int64_t out = weight.dim(0);
  std::vector<float> y(static_cast<std::size_t>(rows * out));
  linear_f32(x.data(), rows, in, f32(weight), out, f32(bias), y.data());
  return y;
}

// [L, heads, d] → [heads, L, d]
std::vector<float> heads_first(const std::vector<float>& x, std::int64_t length, std::int64_t heads, std::int64_t d) {
  std::vector<float> y(x.size());
  for (std::int64_t p = 0; p < length; ++p)
    for (std::int64_t h = 0; h < heads; ++h)
      std::copy_n(x.begin() + (p * heads + h) * d, d, y.begin() + (h * length + p) * d);
  return y;
}

Tensor tensor_from(const std::vector<float>& values, Shape shape) { return Tensor::from_vector(values, std::move(shape)); }

// Gated MLP: down(silu(gate(h)) ⊙ up(h)).
std::vector<float> gated_mlp(const DogeLayerWeights& w, const std::vector<float>& h, std::int64_t length,
                             std::int64_t hidden) {
  std::vector<float> gate = project(h, length, hidden, w.gate_proj, w.gate_proj_bias);
  const std::vector<float> up = project(h, length, hidden, w.up_proj, w.up_proj_bias);
  for (std::size_t i = 0; i < gate.size(); ++i) gate[i] = silu(gate[i]) * up[i];
  return project(gate, length, w.gate_proj.dim(0), w.down_proj, w.down_proj_bias);
}

// CDMoE's routed part (core/model/cdmoe_experts.h), added into the shared expert's output y: the router projection,
// then the routing and the experts in fp32.
void add_routed_experts(const DogeConfig& config, const DogeLayerWeights& w, const std::vector<float>& h,
                        std::int64_t tokens, std::vector<float>& y) {
  const CdmoeRouting routing{.tokens = tokens, .keys = config.expert_keys(),
                             .experts_per_token = config.num_experts_per_tok, .norm_topk_prob = config.norm_topk_prob};
  const std::vector<float> router = project(h, tokens, config.hidden_size, w.router_gate, Tensor{});  // [N, 2K]
  const auto choices = static_cast<std::size_t>(tokens * routing.experts_per_token);
  std::vector<std::int32_t> expert_ids(choices);
  std::vector<float> routing_weights(choices);
  cdmoe_route(router.data(), routing, CdmoeRounding::Fp32, expert_ids.data(), routing_weights.data());
  cdmoe_add_experts(h.data(), tokens, config.hidden_size, f32(w.down_embed), f32(w.up_embed), expert_ids.data(),
                    routing_weights.data(), routing.experts_per_token, CdmoeRounding::Fp32, y.data());
}

}  // namespace

void doge_dynamic_bias(const DogeLayerWeights& layer, const float* v, std::int64_t length, std::int64_t value_width,
                       std::int64_t bias_heads, BiasFormula formula, float* dt, float* beta) {
  linear_f32(v, length, value_width, f32(layer.dt_proj), bias_heads, f32(layer.dt_proj_bias), dt);
  const float* A = f32(layer.A);
  for (std::int64_t j = 0; j < length; ++j)
    for (std::int64_t n = 0; n < bias_heads; ++n) {
      const float scaled = A[n] * softplus(dt[j * bias_heads + n]);
      beta[n * length + j] = formula == BiasFormula::Exp ? std::exp(scaled) : scaled;
    }
}

namespace {

// Shapes the forward indexes by: a model assembled in code (or a config edited after load) must still agree with its
// tensors, or the projections below would read past them.
void check_weights_match_config(const DogeModel& model) {
  const DogeConfig& c = model.config;
  const DogeWeights& w = model.weights;
  const auto expect = [&](const Tensor& tensor, const Shape& shape, std::string_view name) {
    if (tensor.shape() != shape)
      fail("forward: {} has shape {}, but the config ({}) needs {}", name, shape_str(tensor.shape()), model.dir.string(),
           shape_str(shape));
  };
  if (static_cast<std::int64_t>(w.layers.size()) != c.num_hidden_layers)
    fail("forward: the model has {} layers of weights, but the config ({}) says num_hidden_layers = {}",
         w.layers.size(), model.dir.string(), c.num_hidden_layers);
  expect(w.embed, {c.vocab_size, c.hidden_size}, "model.embed_tokens.weight");
  expect(w.lm_head, {c.vocab_size, c.hidden_size}, "lm_head.weight");
  for (std::size_t layer = 0; layer < w.layers.size(); ++layer) {
    const DogeLayerWeights& l = w.layers[layer];
    const std::string p = fmt::format("model.layers.{}.", layer);
    expect(l.q_proj, {c.num_attention_heads * c.head_dim, c.hidden_size}, p + "self_attn.q_proj.weight");
    expect(l.k_proj, {c.num_key_value_heads * c.head_dim, c.hidden_size}, p + "self_attn.k_proj.weight");
    expect(l.v_proj, {c.num_key_value_heads * c.head_dim, c.hidden_size}, p + "self_attn.v_proj.weight");
    expect(l.o_proj, {c.hidden_size, c.num_attention_heads * c.head_dim}, p + "self_attn.o_proj.weight");
    expect(l.dt_proj, {w.bias_heads, c.num_key_value_heads * c.head_dim}, p + "self_attn.dt_proj.weight");
    expect(l.gate_proj, {c.intermediate_size, c.hidden_size}, p + "mlp.gate_proj.weight");
    expect(l.down_proj, {c.hidden_size, c.intermediate_size}, p + "mlp.down_proj.weight");
    if (c.is_moe) {
      expect(l.router_gate, {2 * c.expert_keys(), c.hidden_size}, p + "mlp.router_gate.weight");
      expect(l.down_embed, {c.num_experts, c.hidden_size}, p + "mlp.down_embed.weight");
      expect(l.up_embed, {c.num_experts, c.hidden_size}, p + "mlp.up_embed.weight");
    }
  }
}

// The first NaN or infinity in `values` (laid out as `shape`) as an Error naming where the forward produced it:
// "forward: layer 0 q_rope has NaN at [1, 0, 3] of [4, 10, 16] (12 NaN, 0 infinite values in it)".
void require_finite(std::string_view where, std::string_view stage, const float* values, const Shape& shape) {
  const std::int64_t count = shape_numel(shape);
  const float* bad = std::find_if(values, values + count, [](float value) { return !std::isfinite(value); });
  if (bad == values + count) return;
  std::int64_t nan_count = 0, inf_count = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    nan_count += std::isnan(values[i]);
    inf_count += std::isinf(values[i]);
  }
  Shape index(shape.size());
  for (std::int64_t flat = bad - values, axis = static_cast<std::int64_t>(shape.size()) - 1; axis >= 0; --axis) {
    index[axis] = flat % shape[axis];
    flat /= shape[axis];
  }
  fail("forward: {} {} has {} at {} of {} ({} NaN, {} infinite values in it)", where, stage,
       std::isnan(*bad) ? "NaN" : *bad > 0 ? "+inf" : "-inf", shape_str(index), shape_str(shape), nan_count, inf_count);
}

}  // namespace

ForwardResult doge_forward(const DogeModel& model, std::span<const std::int32_t> ids, const ForwardOptions& options) {
  const auto start = Clock::now();
  const DogeConfig& config = model.config;
  const DogeWeights& weights = model.weights;
  const std::int64_t L = static_cast<std::int64_t>(ids.size());
  const std::int64_t D = config.hidden_size, H = config.num_attention_heads, Hkv = config.num_key_value_heads;
  const std::int64_t d = config.head_dim, V = config.vocab_size, Hb = weights.bias_heads;
  if (L == 0) fail("forward: no input ids");
  config.check_sizes(model.dir.string());
  check_weights_match_config(model);
  for (std::int64_t p = 0; p < L; ++p)
    if (ids[p] < 0 || ids[p] >= V) fail("forward: input id {} at position {} is outside the vocabulary [0, {})", ids[p], p, V);
  if (options.window < 0) fail("forward: window {} is negative (0 = the config's keep_window_size)", options.window);
  if (options.tiles.rows < 1 || options.tiles.cols < 1)
    fail("forward: tile shape {}x{} must be positive", options.tiles.rows, options.tiles.cols);
  ForwardResult result;
  result.window = options.window > 0 ? options.window : config.keep_window_size;
  const std::int64_t probability_bytes = saturating_mul(saturating_mul(H, saturating_mul(L, L)), 4);
  if (options.capture_probs && probability_bytes > options.probs_max_bytes)
    fail("forward: attention probabilities for {} heads × {}² tokens need {} MB, over the {} MB limit", H, L,
         probability_bytes / 1000000, options.probs_max_bytes / 1000000);
  require_cpu_forward_memory(model, L, options);

  std::vector<float> x(static_cast<std::size_t>(L * D));
  const float* embed = f32(weights.embed);
  for (std::int64_t p = 0; p < L; ++p) std::copy_n(embed + ids[p] * D, D, x.begin() + p * D);
  if (options.capture) result.embed = tensor_from(x, {1, L, D});

  const std::vector<float> inverse_frequencies =
      rope_inverse_frequencies(config.rope, d, config.max_position_embeddings, L);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> h(x.size());

  // One layer, x in place. Checking every stage costs a pass over each tensor, so a normal run checks only β (the
  // mask sort needs ordered values) and the layer's output; when the output is not finite the layer runs again from
  // its saved input with every stage checked (locate = true), and the first stage that went wrong is the error.
  const auto run_layer = [&](std::int64_t layer, LayerCapture& capture, bool locate) {
    const DogeLayerWeights& w = weights.layers[static_cast<std::size_t>(layer)];
    const std::string where = fmt::format("layer {}", layer);
    const auto check = [&](std::string_view stage, const std::vector<float>& values, const Shape& shape) {
      if (locate) require_finite(where, stage, values.data(), shape);
    };

    rms_norm_f32(x.data(), L, D, f32(w.input_norm), config.rms_norm_eps, h.data());
    check("input_layernorm", h, {L, D});
    std::vector<float> q = project(h, L, D, w.q_proj, w.q_proj_bias);  // [L, H, d]
    check("q_proj", q, {L, H * d});
    std::vector<float> k = project(h, L, D, w.k_proj, w.k_proj_bias);  // [L, Hkv, d]
    check("k_proj", k, {L, Hkv * d});
    const std::vector<float> v = project(h, L, D, w.v_proj, w.v_proj_bias);  // [L, Hkv·d]
    check("v_proj", v, {L, Hkv * d});
    if (w.q_norm.defined() && w.q_norm.numel()) {  // per-head RMSNorm over d, before RoPE
      rms_norm_f32(q.data(), L * H, d, f32(w.q_norm), config.rms_norm_eps, q.data());
      rms_norm_f32(k.data(), L * Hkv, d, f32(w.k_norm), config.rms_norm_eps, k.data());
      check("q_norm", q, {L, H, d});
      check("k_norm", k, {L, Hkv, d});
    }
    apply_rope(q.data(), L, H, d, inverse_frequencies);
    apply_rope(k.data(), L, Hkv, d, inverse_frequencies);
    const std::vector<float> q_heads = heads_first(q, L, H, d);
    const std::vector<float> k_heads = heads_first(k, L, Hkv, d);
    const std::vector<float> v_heads = heads_first(v, L, Hkv, d);
    check("q_rope", q_heads, {H, L, d});
    check("k_rope", k_heads, {Hkv, L, d});

    std::vector<float> dt(static_cast<std::size_t>(L * Hb)), beta(static_cast<std::size_t>(Hb * L));
    doge_dynamic_bias(w, v.data(), L, Hkv * d, Hb, options.bias_formula, dt.data(), beta.data());
    if (options.bias_override) options.bias_override(layer, beta);
    check("dt", dt, {L, Hb});
    require_finite(where, "dyn_bias", beta.data(), {Hb, L});  // always: ranking NaN keys has no meaning
    std::vector<std::int32_t> death(static_cast<std::size_t>(Hb * L));
    for (std::int64_t n = 0; n < Hb; ++n) {
      const auto head_death = dma_death_indices(std::span<const float>(beta.data() + n * L, L), result.window,
                                                options.mask_variant);
      std::copy(head_death.begin(), head_death.end(), death.begin() + n * L);
    }

    AttentionProblem problem;
    problem.q_heads = H;
    problem.kv_heads = Hkv;
    problem.bias_heads = Hb;
    problem.q_len = problem.key_len = L;
    problem.head_dim = d;
    problem.scale = scale;
    problem.q = q_heads.data();
    problem.k = k_heads.data();
    problem.v = v_heads.data();
    problem.beta = beta.data();
    problem.death = death.data();
    std::vector<float> context_heads(static_cast<std::size_t>(H * L * d));
    const auto attention_start = Clock::now();
    if (options.kept_sets) {
      const std::vector<KeptKeySets> kept = options.kept_sets(layer, problem);
      capture.work = attention_kept_sets(problem, kept, context_heads.data());
    } else {
      capture.work = attention_tiled(problem, options.tiles, context_heads.data());
    }
    if (!locate) result.attention_ms += ms_since(attention_start);

    std::vector<float> context(context_heads.size());  // [H, L, d] → [L, H·d]
    for (std::int64_t hh = 0; hh < H; ++hh)
      for (std::int64_t p = 0; p < L; ++p)
        std::copy_n(context_heads.begin() + (hh * L + p) * d, d, context.begin() + (p * H + hh) * d);
    check("context", context, {L, H * d});
    const std::vector<float> attn_out = project(context, L, H * d, w.o_proj, w.o_proj_bias);
    check("attn_out", attn_out, {L, D});
    const float* input_residual = f32(w.input_residual);
    for (std::int64_t p = 0; p < L; ++p)
      for (std::int64_t c = 0; c < D; ++c) x[p * D + c] = input_residual[c] * x[p * D + c] + attn_out[p * D + c];
    check("attention residual", x, {L, D});

    rms_norm_f32(x.data(), L, D, f32(w.post_norm), config.rms_norm_eps, h.data());
    check("post_attention_layernorm", h, {L, D});
    std::vector<float> mlp_out = gated_mlp(w, h, L, D);
    if (config.is_moe) add_routed_experts(config, w, h, L, mlp_out);
    check("mlp_out", mlp_out, {L, D});
    const float* post_residual = f32(w.post_residual);
    for (std::int64_t p = 0; p < L; ++p)
      for (std::int64_t c = 0; c < D; ++c) x[p * D + c] = post_residual[c] * x[p * D + c] + mlp_out[p * D + c];

    if (options.capture && !locate) {
      capture.q_rope = tensor_from(q_heads, {1, H, L, d});
      capture.k_rope = tensor_from(k_heads, {1, Hkv, L, d});
      capture.v = tensor_from(v, {1, L, Hkv * d});
      capture.dt = tensor_from(dt, {1, L, Hb});
      capture.dyn_bias = tensor_from(beta, {1, Hb, L});
      capture.death = Tensor::from_vector(death, {1, Hb, L});
      capture.context = tensor_from(context, {1, L, H * d});
      capture.attn_out = tensor_from(attn_out, {1, L, D});
      capture.mlp_out = tensor_from(mlp_out, {1, L, D});
      capture.output = tensor_from(x, {1, L, D});
      for (std::int64_t n = 0; n < Hb; ++n)
        capture.tile_maps.push_back(build_tile_map(death.data() + n * L, L, L, options.tiles));
      if (options.capture_probs) {
        capture.attn_probs = zeros_f32({1, H, L, L});
        std::vector<float> reference_out(context_heads.size());
        attention_reference(problem, reference_out.data(), capture.attn_probs.mutable_data<float>(), false);
      }
    }
  };

  std::vector<float> layer_input(x.size());
  for (std::int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    if (options.cancel && options.cancel->load()) throw ForwardCancelled{};
    LayerCapture capture;
    std::copy(x.begin(), x.end(), layer_input.begin());
    run_layer(layer, capture, false);
    if (!std::all_of(x.begin(), x.end(), [](float value) { return std::isfinite(value); })) {
      std::copy(layer_input.begin(), layer_input.end(), x.begin());
      LayerCapture discarded;
      run_layer(layer, discarded, true);                                        // throws at the first bad stage
      require_finite(fmt::format("layer {}", layer), "output", x.data(), {L, D});  // the last stage has no check
    }
    result.layers.push_back(std::move(capture));
    if (options.on_progress) options.on_progress(layer + 1, config.num_hidden_layers);
  }

  rms_norm_f32(x.data(), L, D, f32(weights.final_norm), config.rms_norm_eps, h.data());
  require_finite("final", "norm", h.data(), {L, D});
  if (options.capture) result.final_norm = tensor_from(h, {1, L, D});
  if (options.compute_logits) {
    result.logits = tensor_from(project(h, L, D, weights.lm_head, Tensor{}), {1, L, V});
    require_finite("final", "logits", result.logits.data<float>(), {L, V});
  }
  result.elapsed_ms = ms_since(start);
  return result;
}

std::vector<float> doge_layer_bias(const DogeModel& model, std::span<const std::int32_t> ids, std::int64_t layer) {
  const DogeConfig& config = model.config;
  if (layer < 0 || layer >= config.num_hidden_layers)
    fail("layer {} is not in the model (0..{})", layer, config.num_hidden_layers - 1);
  const std::int64_t L = static_cast<std::int64_t>(ids.size()), D = config.hidden_size;
  const std::int64_t Hkv = config.num_key_value_heads, d = config.head_dim, Hb = model.weights.bias_heads;
  std::vector<float> x(static_cast<std::size_t>(L * D)), h(x.size());
  if (layer > 0) {  // the earlier layers in full
    ForwardOptions options;
    options.capture = true;
    DogeModel truncated_view = model;  // shares the weight storage (tensors are shared views)
    truncated_view.config.num_hidden_layers = layer;
    truncated_view.weights.layers.resize(static_cast<std::size_t>(layer));
    const ForwardResult result = doge_forward(truncated_view, ids, options);
    const auto& output = result.layers.back().output;
    std::copy_n(output.data<float>(), x.size(), x.begin());
  } else {
    const float* embed = f32(model.weights.embed);
    for (std::int64_t p = 0; p < L; ++p) {
      if (ids[p] < 0 || ids[p] >= config.vocab_size) fail("input id {} at position {} is outside the vocabulary", ids[p], p);
      std::copy_n(embed + ids[p] * D, D, x.begin() + p * D);
    }
  }
  const DogeLayerWeights& w = model.weights.layers[static_cast<std::size_t>(layer)];
  rms_norm_f32(x.data(), L, D, f32(w.input_norm), config.rms_norm_eps, h.data());
  const std::vector<float> v = project(h, L, D, w.v_proj, w.v_proj_bias);
  std::vector<float> dt(static_cast<std::size_t>(L * Hb)), beta(static_cast<std::size_t>(Hb * L));
  doge_dynamic_bias(w, v.data(), L, Hkv * d, Hb, BiasFormula::Exp, dt.data(), beta.data());
  return beta;
}

}  // namespace dmascope
