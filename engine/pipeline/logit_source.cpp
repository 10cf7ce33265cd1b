#include "engine/pipeline/logit_source.h"

#include <fmt/format.h>

#include <cmath>

namespace dmascope::engine {

std::optional<LogitSource> logit_source(const PipelineResult& result, std::int64_t layer, std::int64_t head,
                                        std::string* why_not) {
  const std::int64_t L = result.length(), H = result.q_heads();
  const std::int64_t Hkv = result.model->model.config.num_key_value_heads, d = result.model->model.config.head_dim;
  auto refuse = [&](std::string reason) -> std::optional<LogitSource> {
    *why_not = std::move(reason);
    return std::nullopt;
  };
  if (layer < 0 || layer >= result.layers() || head < 0 || head >= H)
    return refuse(fmt::format("layer {} head {} is outside the result ({} layers × {} heads)", layer, head,
                              result.layers(), H));
  const LayerCapture& capture = result.forward.layers[static_cast<std::size_t>(layer)];
  if (!capture.q_rope.defined() || !capture.k_rope.defined() || capture.q_rope.numel() == 0)
    return refuse(fmt::format("this result has no q/k captures for layer {} (the forward that made it skipped them "
                              "at L = {}): logits need q and k after RoPE",
                              layer, L));
  if (capture.q_rope.dtype() != DType::F32 || capture.k_rope.dtype() != DType::F32)
    return refuse(fmt::format("layer {}: q/k captures are {}/{}, the logits view reads F32", layer,
                              dtype_name(capture.q_rope.dtype()), dtype_name(capture.k_rope.dtype())));
  if (capture.q_rope.shape() != Shape{1, H, L, d} || capture.k_rope.shape() != Shape{1, Hkv, L, d})
    return refuse(fmt::format("layer {}: q {} / k {} captures, expected [1, {}, {}, {}] / [1, {}, {}, {}]", layer,
                              shape_str(capture.q_rope.shape()), shape_str(capture.k_rope.shape()), H, L, d, Hkv, L,
                              d));
  const std::int64_t kv_head = head / (H / Hkv), bias_head = result.bias_head_of(head);
  LogitSource source;
  source.query = {capture.q_rope.data<float>() + head * L * d, static_cast<std::size_t>(L * d)};
  source.key = {capture.k_rope.data<float>() + kv_head * L * d, static_cast<std::size_t>(L * d)};
  source.beta = result.beta(layer, bias_head);
  source.death = result.death(layer, bias_head);
  source.head_dim = d;
  source.scale = 1.0f / std::sqrt(static_cast<float>(d));  // as doge_forward's attention
  return source;
}

}  // namespace dmascope::engine
