// How one key's β comes about, with the real numbers of a result: v → dt_proj → softplus → ×A → exp → β, and what β
// does to the key — its rank among the keys of the row it is born on, and the rows that keep it. The heatmap's
// tooltip shows it for the key under the mouse, the tour's β step for the key of highest β in view.
#pragma once

#include <cstdint>
#include <string>

#include "app/gui/engine_vocabulary.h"
#include "engine/pipeline/pipeline_result.h"

namespace dmascope::gui {

// The stages' values for one key and bias head. `has_stages` is false for a result without the captured dt or a
// float A (then only β is known).
struct BetaStages {
  bool has_stages = false;
  float dt = 0;           // dt_proj(v): the key's value vector projected to this bias head
  float softplus_dt = 0;  // softplus(dt) = log(1 + e^dt), positive
  float A = 0;            // the head's learned A (negative in trained Doge models)
  float scaled = 0;       // A × softplus(dt)
  bool exp_formula = true;  // β = exp(scaled) (Doge); false: β = scaled (a model trained without the exp)
  float beta = 0;
};
BetaStages beta_stages(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head, std::int64_t key);

// "key 103 v51: dt_proj(v) 1.23 → softplus 1.49 → ×A (−0.81) −1.21 → exp → β 0.298"
std::string beta_pipeline_text(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head,
                               std::int64_t key);
// "rank 5 of 104 keys on row 103 · kept on rows 103..170, dropped at 171 (64 earlier keys rank higher)"
std::string beta_rank_text(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head, std::int64_t key);

}  // namespace dmascope::gui
