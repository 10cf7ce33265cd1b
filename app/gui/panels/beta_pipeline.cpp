#include "app/gui/panels/beta_pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace dmascope::gui {

namespace {

float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

}  // namespace

BetaStages beta_stages(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head, std::int64_t key) {
  const auto& capture = result.forward.layers.at(static_cast<std::size_t>(layer));
  const auto& weights = result.model->model.weights.layers.at(static_cast<std::size_t>(layer));
  const std::int64_t bias_heads = result.bias_heads();
  BetaStages stages;
  stages.beta = result.beta(layer, bias_head)[static_cast<std::size_t>(key)];
  // dt is captured per (position, bias head) and A is a weight; a result without them shows β alone.
  if (!capture.dt.defined() || capture.dt.dtype() != DType::F32 || capture.dt.numel() != result.length() * bias_heads ||
      !weights.A.defined() || weights.A.dtype() != DType::F32 || weights.A.numel() != bias_heads)
    return stages;
  stages.has_stages = true;
  stages.dt = capture.dt.data<float>()[key * bias_heads + bias_head];
  stages.softplus_dt = softplus(stages.dt);
  stages.A = weights.A.data<float>()[bias_head];
  stages.scaled = stages.A * stages.softplus_dt;
  // The bias formula is exp (Doge) or the scaled value itself (a model trained without the exp).
  stages.exp_formula =
      std::abs(std::exp(stages.scaled) - stages.beta) <= 1e-3f * std::max(1.0f, std::abs(stages.beta));
  return stages;
}

std::string beta_pipeline_text(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head,
                               std::int64_t key) {
  const BetaStages s = beta_stages(result, layer, bias_head, key);
  const std::string token = fmt::format("key {} {}", key, result.token_label(key));
  if (!s.has_stages) return fmt::format("{}: β {:.3g}", token, s.beta);
  return s.exp_formula ? fmt::format("{}: dt_proj(v) {:.3g} → softplus {:.3g} → ×A ({:.3g}) {:.3g} → exp → β {:.3g}",
                                     token, s.dt, s.softplus_dt, s.A, s.scaled, s.beta)
                       : fmt::format("{}: dt_proj(v) {:.3g} → softplus {:.3g} → ×A ({:.3g}) → β {:.3g}", token, s.dt,
                                     s.softplus_dt, s.A, s.beta);
}

std::string beta_rank_text(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head,
                           std::int64_t key) {
  const auto beta = result.beta(layer, bias_head);
  const auto death = result.death(layer, bias_head);
  const std::int64_t L = result.length(), w = result.forward.window;
  std::int64_t higher = 0;  // earlier keys of higher β, on the key's own row (ties: the earlier key ranks first)
  for (std::int64_t i = 0; i < key; ++i) higher += beta[static_cast<std::size_t>(i)] >= beta[static_cast<std::size_t>(key)];
  const std::int64_t dies = death[static_cast<std::size_t>(key)];
  const std::string rank = fmt::format("rank {} of {} keys on row {}", higher + 1, key + 1, key);
  if (dies <= key) return fmt::format("{} · never kept ({} earlier keys rank higher, w = {})", rank, higher, w);
  if (dies >= L) return fmt::format("{} · kept on every row from {} on", rank, key);
  return fmt::format("{} · kept on rows {}..{}, dropped at row {}: {} earlier keys rank higher there", rank, key,
                     dies - 1, dies, w);
}

}  // namespace dmascope::gui
