#include "engine/pipeline/logit_view.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "engine/pipeline/logit_source.h"
#include "core/base/error.h"
#include "core/mask/dma_mask.h"

namespace dmascope::engine {

namespace {

bool on_device(const PipelineResult& result) {
  return result.device_captures && result.device_captures->attention_inputs_missing().empty();
}

LogitSource host_source(const PipelineResult& result, std::int64_t layer, std::int64_t head) {
  std::string why_not;
  std::optional<LogitSource> source = logit_source(result, layer, head, &why_not);
  if (!source) fail("{}", why_not);
  return *source;
}

}  // namespace

std::string logit_view_missing(const PipelineResult& result, std::int64_t layer, std::int64_t head) {
  if (layer < 0 || layer >= result.layers() || head < 0 || head >= result.q_heads())
    return fmt::format("layer {} head {} is outside the result ({} layers × {} heads)", layer, head, result.layers(),
                       result.q_heads());
  if (on_device(result)) return {};
  std::string why_not;
  if (logit_source(result, layer, head, &why_not)) return {};
  if (result.device_captures)  // the GPU's reason is the one that matters: the host never had q/k
    return fmt::format("no q/k for this view: {}", result.device_captures->attention_inputs_missing());
  return why_not;
}

const char* logit_view_device(const PipelineResult& result) { return on_device(result) ? "GPU" : "CPU"; }

std::int64_t logit_view_cpu_cost(const PipelineResult& result, const LogitViewRequest& view,
                                 const LogitGridOptions& options) {
  if (on_device(result) || view.probabilities) return -1;
  const std::int64_t kept = kept_entries_in_window(result.death(view.layer, result.bias_head_of(view.head)),
                                                   view.window, view.width, view.height);
  const std::int64_t entries =
      kept <= options.exact_max_entries ? kept : std::min(kept, view.width * view.height * options.samples_per_pixel);
  return entries * result.model->model.config.head_dim;
}

LogitGrid compute_logit_grid(const PipelineResult& result, const LogitViewRequest& view,
                             const LogitGridOptions& options) {
  if (const std::string missing = logit_view_missing(result, view.layer, view.head); !missing.empty())
    fail("{}", missing);
  if (on_device(result))
    return result.device_captures->logit_grid(view.layer, view.head, view.window, view.width, view.height, view.mode,
                                              options, view.probabilities);
  LogitSource source = host_source(result, view.layer, view.head);
  std::vector<float> lse;
  if (view.probabilities) {
    const CellRange rows = rows_in_view(view.window, view.height, result.length());
    lse = row_log_sum_exp(source, rows, options.cancel);
    if (lse.empty() && rows.end > rows.begin) {  // cancelled
      LogitGrid cancelled;
      cancelled.cancelled = true;
      return cancelled;
    }
    source.row_lse = lse;
    source.lse_first_row = rows.begin;
  }
  return reduce_logits_to_grid(source, view.window, view.width, view.height, view.mode, options);
}

LogitCell logit_cell(const PipelineResult& result, std::int64_t layer, std::int64_t head, std::int64_t query,
                     std::int64_t key) {
  if (const std::string missing = logit_view_missing(result, layer, head); !missing.empty()) fail("{}", missing);
  if (on_device(result)) return result.device_captures->cell(layer, head, query, key);
  LogitSource source = host_source(result, layer, head);
  LogitCell cell;
  if (!dma_keeps(source.death, query, key)) {
    cell.logit = -std::numeric_limits<float>::infinity();
    return cell;
  }
  const std::vector<float> lse = row_log_sum_exp(source, {query, query + 1});
  source.row_lse = lse;
  source.lse_first_row = query;
  cell.logit = dma_logit(source, query, key);
  cell.probability = dma_probability(source, query, key);
  return cell;
}

}  // namespace dmascope::engine
