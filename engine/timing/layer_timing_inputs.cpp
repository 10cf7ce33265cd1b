// Inputs of the timed attention problems: a layer's captures, or synthetic values with the model's head shape.
#include <algorithm>
#include <random>

#include "engine/timing/layer_timing.h"
#include "core/base/error.h"
#include "core/base/parallel.h"

namespace dmascope::engine {

AttentionInputs layer_attention_inputs(const PipelineResult& result, std::int64_t layer, std::int64_t window) {
  if (layer < 0 || layer >= result.layers()) fail("timing: layer {} is out of range [0, {})", layer, result.layers());
  // The CUDA forward leaves q/k/v on the device: the inputs name that layer there, and the CUDA backend times it in
  // place (a backend that cannot reach it downloads it: host_attention_inputs).
  if (!result.forward.layers[static_cast<std::size_t>(layer)].q_rope.defined() && result.device_captures &&
      result.device_captures->attention_inputs_missing().empty()) {
    const DogeConfig& config = result.model->model.config;
    AttentionInputs inputs;
    inputs.q_heads = config.num_attention_heads;
    inputs.kv_heads = config.num_key_value_heads;
    inputs.bias_heads = result.bias_heads();
    inputs.length = result.length();
    inputs.head_dim = config.head_dim;
    inputs.window = window;
    inputs.variant = result.settings.mask_variant;
    inputs.device = result.device_captures;
    inputs.device_layer = layer;
    return inputs;
  }
  return capture_attention_inputs(result.forward.layers[static_cast<std::size_t>(layer)], result.model->model.config,
                                  result.bias_heads(), window, result.settings.mask_variant);
}

AttentionInputs capture_attention_inputs(const LayerCapture& capture, const DogeConfig& config,
                                         std::int64_t bias_heads, std::int64_t window, MaskVariant variant) {
  if (!capture.q_rope.defined() || !capture.k_rope.defined() || !capture.v.defined() || !capture.dyn_bias.defined())
    fail("attention inputs: the layer's q, k, v and β were not captured");
  AttentionInputs inputs;
  inputs.q_heads = config.num_attention_heads;
  inputs.kv_heads = config.num_key_value_heads;
  inputs.bias_heads = bias_heads;
  inputs.length = capture.dyn_bias.numel() / bias_heads;
  inputs.head_dim = config.head_dim;
  inputs.window = window;
  inputs.variant = variant;
  const std::int64_t L = inputs.length, d = inputs.head_dim, Hkv = inputs.kv_heads;
  inputs.q.assign(capture.q_rope.data<float>(), capture.q_rope.data<float>() + capture.q_rope.numel());
  inputs.k.assign(capture.k_rope.data<float>(), capture.k_rope.data<float>() + capture.k_rope.numel());
  inputs.beta = capture.dyn_bias.to_f32_vector();
  // The captured v is [L, Hkv·d]; the kernels want [Hkv, L, d].
  const float* v_tokens = capture.v.data<float>();
  inputs.v.resize(static_cast<std::size_t>(Hkv * L * d));
  for (std::int64_t p = 0; p < L; ++p)
    for (std::int64_t g = 0; g < Hkv; ++g)
      std::copy_n(v_tokens + (p * Hkv + g) * d, d, inputs.v.begin() + (g * L + p) * d);
  return inputs;
}

AttentionInputs synthetic_attention_inputs(const AttentionInputs& head_shape, std::int64_t length, BiasPattern pattern,
                                           std::uint64_t seed) {
  AttentionInputs inputs;
  inputs.batch = head_shape.batch;
  inputs.q_heads = head_shape.q_heads;
  inputs.kv_heads = head_shape.kv_heads;
  inputs.bias_heads = head_shape.bias_heads;
  inputs.head_dim = head_shape.head_dim;
  inputs.window = head_shape.window;
  inputs.variant = head_shape.variant;
  inputs.length = length;
  const std::int64_t d = inputs.head_dim;
  auto fill = [&](std::vector<float>& values, std::int64_t heads, std::uint64_t stream) {
    values.resize(static_cast<std::size_t>(heads * length * d));
    // One generator per chunk of rows, seeded from (seed, stream, chunk), so the values do not depend on threads.
    constexpr std::int64_t kRowsPerChunk = 4096;
    const std::int64_t rows = heads * length, chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
    parallel_for(chunks, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t chunk = begin; chunk < end; ++chunk) {
        std::mt19937_64 rng(seed * 1000003u + stream * 7919u + static_cast<std::uint64_t>(chunk));
        std::normal_distribution<float> normal(0.0f, 1.0f);
        const std::int64_t first = chunk * kRowsPerChunk * d, last = std::min(rows, (chunk + 1) * kRowsPerChunk) * d;
        for (std::int64_t n = first; n < last; ++n) values[static_cast<std::size_t>(n)] = normal(rng);
      }
    });
  };
  fill(inputs.q, inputs.batch * inputs.q_heads, 1);
  fill(inputs.k, inputs.batch * inputs.kv_heads, 2);
  fill(inputs.v, inputs.batch * inputs.kv_heads, 3);
  inputs.beta = make_bias(pattern, inputs.batch * inputs.bias_heads, length, seed);
  return inputs;
}

TimingOptions timing_options_for(const PipelineSettings& settings) {
  TimingOptions options;
  options.backend = settings.backend;
  options.precision = settings.timing_dtype;
  options.cpu_tiles = {settings.tile_size, settings.tile_size};
  return options;
}

}  // namespace dmascope::engine
