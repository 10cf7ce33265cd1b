// The CUDA side of the Timing view (a stub that says why not in a build without the kernels).
#include <algorithm>

#include <fmt/format.h>

#include "app/gui/layer_timing.h"
#include "core/bias_patterns.h"
#include "core/error.h"

#ifdef DMASCOPE_HAS_CUDA
#include "kernels/dma_cuda.h"
#endif

namespace dmascope::gui {

#ifdef DMASCOPE_HAS_CUDA

bool cuda_backend_available(std::string* why_not) {
  const cuda::DeviceInfo info = cuda::device_info();
  if (!info.available && why_not) *why_not = "no usable CUDA GPU (sm_80 or newer) was found";
  return info.available;
}

namespace {

constexpr int kWarmup = 3, kRepeats = 20;

cuda::DeviceBuffer upload_bf16(const float* values, std::int64_t count) {
  std::vector<std::uint16_t> bits(static_cast<std::size_t>(count));
  for (std::int64_t n = 0; n < count; ++n) bits[n] = f32_to_bf16(values[n]).bits;
  cuda::DeviceBuffer buffer(bits.size() * 2);
  buffer.upload(bits.data(), bits.size() * 2);
  return buffer;
}

double median(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

double spread(const std::vector<double>& times) {
  return *std::max_element(times.begin(), times.end()) - *std::min_element(times.begin(), times.end());
}

}  // namespace

LayerTiming time_layer_cuda(const PipelineResult& result, std::int64_t layer, const std::atomic<bool>& cancel) {
  std::string why;
  if (!cuda_backend_available(&why)) fail("CUDA timing: {}", why);
  const LayerCapture& capture = result.forward.layers.at(static_cast<std::size_t>(layer));
  const DogeConfig& config = result.model->model.config;
  cuda::AttentionShape shape;
  shape.q_heads = config.num_attention_heads;
  shape.kv_heads = config.num_key_value_heads;
  shape.bias_heads = result.bias_heads();
  shape.q_len = shape.key_len = result.length();
  shape.head_dim = config.head_dim;
  shape.precision = cuda::Precision::BF16;
  if (const std::string reason = cuda::unsupported_reason(shape); !reason.empty())
    fail("CUDA timing: this shape is not supported by the kernels: {}", reason);
  const std::int64_t L = result.length(), d = shape.head_dim, Hkv = shape.kv_heads;
  std::vector<float> v_heads(static_cast<std::size_t>(Hkv * L * d));
  const float* v_tokens = capture.v.data<float>();
  for (std::int64_t p = 0; p < L; ++p)
    for (std::int64_t g = 0; g < Hkv; ++g)
      std::copy_n(v_tokens + (p * Hkv + g) * d, d, v_heads.begin() + (g * L + p) * d);
  auto q = upload_bf16(capture.q_rope.data<float>(), capture.q_rope.numel());
  auto k = upload_bf16(capture.k_rope.data<float>(), capture.k_rope.numel());
  auto v = upload_bf16(v_heads.data(), static_cast<std::int64_t>(v_heads.size()));
  cuda::DeviceBuffer beta(capture.dyn_bias.nbytes()), death(capture.death.nbytes()), out(q.bytes());
  beta.upload(capture.dyn_bias.data<float>(), capture.dyn_bias.nbytes());
  cuda::DmaRunner runner(shape, result.forward.window, result.settings.mask_variant);
  if (cancel.load()) throw ForwardCancelled{};
  const auto mask_times =
      cuda::time_ms([&] { runner.build_mask(beta.as<float>(), death.as<std::int32_t>()); }, kWarmup, kRepeats);
  const auto dma_times = cuda::time_ms(
      [&] { runner.forward(q.get(), k.get(), v.get(), beta.as<float>(), death.as<std::int32_t>(), out.get()); },
      kWarmup, kRepeats);
  if (cancel.load()) throw ForwardCancelled{};
  const auto dense_times =
      cuda::time_ms([&] { runner.dense_forward(q.get(), k.get(), v.get(), beta.as<float>(), out.get()); }, kWarmup,
                    kRepeats);
  LayerTiming timing;
  timing.generation = result.generation;
  timing.layer = layer;
  timing.device = fmt::format("{} (CUDA, bf16)", cuda::device_info().name);
  timing.on_gpu = true;
  timing.repeats = kRepeats;
  timing.mask_build_ms = median(mask_times);
  timing.dma_ms = median(dma_times);
  timing.dma_spread_ms = spread(dma_times);
  timing.dense_ms = median(dense_times);
  timing.dense_spread_ms = spread(dense_times);
  double kept = 0, active_tiles = 0, causal_tiles = 0;
  for (std::int64_t b = 0; b < shape.bias_heads; ++b) {
    const TileMap& map = result.tile_map(layer, b);
    kept += static_cast<double>(map.kept_entries);
    active_tiles += static_cast<double>(map.partial + map.full);
    causal_tiles += static_cast<double>(map.causal_tiles);
  }
  timing.dense_pairs = causal_pairs(L, L) * static_cast<double>(shape.q_heads);
  timing.useful_pairs = kept * static_cast<double>(shape.q_heads / shape.bias_heads);
  timing.executed_pairs = static_cast<double>(runner.executed_pairs());
  timing.token_density = timing.dense_pairs > 0 ? timing.useful_pairs / timing.dense_pairs : 0;
  timing.tile_density = causal_tiles > 0 ? active_tiles / causal_tiles : 0;
  return timing;
}

#else

bool cuda_backend_available(std::string* why_not) {
  if (why_not) *why_not = "this build has no CUDA kernels (configured without a CUDA toolkit or with DMASCOPE_CUDA=OFF)";
  return false;
}

LayerTiming time_layer_cuda(const PipelineResult&, std::int64_t, const std::atomic<bool>&) {
  fail("CUDA timing: this build has no CUDA kernels");
}

#endif

}  // namespace dmascope::gui
