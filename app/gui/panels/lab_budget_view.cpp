// The Mask lab's budget curves: mean mass recall against the budget w for one head, a line per strategy (dam has no
// budget and is left out), through the app's line chart (render/line_chart.h).
#include <imgui.h>

#include <fmt/format.h>

#include "app/gui/panels/lab_views.h"
#include "app/gui/render/line_chart.h"

namespace dmascope::gui {

namespace {

// Okabe–Ito colours, one per strategy (distinct for colour-blind viewers).
constexpr ImU32 kStrategyColors[] = {IM_COL32(0, 114, 178, 255),  IM_COL32(230, 159, 0, 255),
                                     IM_COL32(0, 158, 115, 255),  IM_COL32(204, 121, 167, 255),
                                     IM_COL32(240, 228, 66, 255), IM_COL32(86, 180, 233, 255),
                                     IM_COL32(213, 94, 0, 255)};

std::string format_recall(double value) { return fmt::format("{:.4f}", value); }

}  // namespace

void draw_lab_budget_curves(AppState& state, const LabRun& run) {
  const BudgetCurves& curves = run.curves;
  if (curves.windows.empty() || curves.layers.empty()) {
    ImGui::TextDisabled("no budget curves in this run (tick \"budget curves\" and run again)");
    return;
  }
  LabPanelState& lab = state.lab;
  lab_layer_head_pickers(run, lab.dam_layer, lab.dam_head);
  std::size_t layer_index = 0;
  while (layer_index + 1 < curves.layers.size() && curves.layers[layer_index] < lab.dam_layer) ++layer_index;
  std::vector<ChartSeries> series;
  for (std::size_t s = 0; s < curves.strategies.size(); ++s) {
    ChartSeries line;
    line.label = std::string(strategy_name(curves.strategies[s]));
    line.color = kStrategyColors[static_cast<std::size_t>(curves.strategies[s]) % IM_ARRAYSIZE(kStrategyColors)];
    for (std::size_t w = 0; w < curves.windows.size(); ++w) {
      line.x.push_back(static_cast<double>(curves.windows[w]));
      line.y.push_back(curves.at(layer_index, lab.dam_head, s, w));
    }
    series.push_back(std::move(line));
  }
  LineChartOptions options;
  options.x_title = "budget w (keys per row)";
  options.y_title = "mass recall (mean over rows)";
  options.height = std::max(200.0f, ImGui::GetContentRegionAvail().y - ImGui::GetTextLineHeightWithSpacing());
  options.format_value = &format_recall;
  draw_line_chart("budget curves", series, options);
}

}  // namespace dmascope::gui
