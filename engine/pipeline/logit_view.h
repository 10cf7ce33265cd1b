// The logits and probabilities views of one query head, computed where the result's captures are: on the GPU that ran
// the forward (DeviceCaptures: q/k never leave it), or on the CPU from the host captures (logit_source.h). Either way
// only the view's pixels are computed: probabilities need each visible row's log-sum-exp over its kept keys, computed
// for the visible rows alone, so no L×L buffer exists at any length.
#pragma once

#include <cstdint>
#include <string>

#include "engine/pipeline/pipeline_result.h"
#include "core/view/view_reduce.h"

namespace dmascope::engine {

struct LogitViewRequest {
  std::int64_t layer = 0, head = 0;  // head: a query head
  MatrixWindow window;
  std::int64_t width = 0, height = 0;
  ReduceMode mode = ReduceMode::Mean;
  bool probabilities = false;  // exp(S − lse_row) instead of S
};

// Empty when the result can show the logits and probabilities of (layer, head); else a sentence saying why not.
std::string logit_view_missing(const PipelineResult& result, std::int64_t layer, std::int64_t head);
// Where the view is computed: "GPU" (the device captures) or "CPU".
const char* logit_view_device(const PipelineResult& result);
// Multiply-adds the view costs at most on the CPU (the UI thread computes it in place when this is small); −1 when it
// is computed on the GPU or needs the row log-sum-exp (then it always goes to the worker).
std::int64_t logit_view_cpu_cost(const PipelineResult& result, const LogitViewRequest& view,
                                 const LogitGridOptions& options);
// Throws Error when logit_view_missing is not empty. options.cancel: a cancelled grid says so.
LogitGrid compute_logit_grid(const PipelineResult& result, const LogitViewRequest& view,
                             const LogitGridOptions& options);
// One entry's logit and probability (−∞ and 0 where the mask drops it), as the grids compute them.
LogitCell logit_cell(const PipelineResult& result, std::int64_t layer, std::int64_t head, std::int64_t query,
                     std::int64_t key);

}  // namespace dmascope::engine
