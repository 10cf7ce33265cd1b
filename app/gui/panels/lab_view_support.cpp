// What the Mask lab's views share: metric lookup by name and the LabHead of a (layer, head) of a run.
#include <imgui.h>

#include <algorithm>

#include "app/gui/panels/lab_views.h"
#include "core/base/error.h"

namespace dmascope::gui {

double lab_metric_value(const StrategyMetrics& metrics, LabMetric metric) {
  switch (metric) {
    case LabMetric::Recall: return metrics.mass_recall_mean;
    case LabMetric::OutputError: return metrics.output_rel_error;
    case LabMetric::TokenDensity: return metrics.token_density;
    case LabMetric::TileDensity: return metrics.tile_density;
  }
  return 0;
}

const char* lab_metric_name(LabMetric metric) {
  switch (metric) {
    case LabMetric::Recall: return "mass recall";
    case LabMetric::OutputError: return "output error";
    case LabMetric::TokenDensity: return "token density";
    case LabMetric::TileDensity: return "tile density";
  }
  return "";
}

LabHeadView lab_head_view(const LabRun& run, std::int64_t layer, std::int64_t head) {
  const auto& layers = run.source->forward.layers;
  if (layer < 0 || layer >= static_cast<std::int64_t>(layers.size()))
    fail("{}: layer {} out of range (the model has {})", run.label, layer, layers.size());
  LabHeadView view;
  view.layer = std::make_unique<LabLayer>(layers[static_cast<std::size_t>(layer)], run.result.window);
  const DamHeadMask* dam = nullptr;
  const auto index = static_cast<std::size_t>(layer * run.result.heads + head);
  if (index < run.result.dam.size()) dam = &run.result.dam[index];
  view.head = view.layer->head(head, dam);
  return view;
}

bool lab_layer_head_pickers(const LabRun& run, int& layer, int& head) {
  if (run.result.layers.empty()) return false;
  const int first = static_cast<int>(run.result.layers.front()), last = static_cast<int>(run.result.layers.back());
  layer = std::clamp(layer, first, last);
  head = std::clamp(head, 0, static_cast<int>(run.result.heads) - 1);
  bool changed = false;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  changed |= ImGui::SliderInt("layer##lab", &layer, first, last);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  changed |= ImGui::SliderInt("head##lab", &head, 0, static_cast<int>(run.result.heads) - 1);
  return changed;
}

}  // namespace dmascope::gui
