// The Mask lab's budget curves: mean mass recall against the budget w for one head, a line per strategy (dam has no
// budget and is left out), through the app's line chart (render/line_chart.h); on a trained task, below it, the
// model's answer accuracy against the same budgets for dma, swa and oracle (engine/lab/answer_accuracy.h).
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

std::string format_percent(double value) { return fmt::format("{:.1f} %", 100.0 * value); }

ImU32 strategy_color(Strategy strategy) {
  return kStrategyColors[static_cast<std::size_t>(strategy) % IM_ARRAYSIZE(kStrategyColors)];
}

// The whole model's answers under each strategy's mask against w (the same budgets), and the model as trained.
void draw_accuracy_curve(const AccuracyCurve& curve, float height) {
  ImGui::Text("answer accuracy on %lld %s sequences (%lld answers); the model as trained (dma, w = %lld): %.1f %%",
              static_cast<long long>(curve.sequences), std::string(toy_task_name(curve.task)).c_str(),
              static_cast<long long>(curve.answers), static_cast<long long>(curve.model_window),
              100.0 * curve.model_accuracy());
  std::vector<ChartSeries> series;
  for (std::size_t s = 0; s < curve.strategies.size(); ++s) {
    ChartSeries line;
    line.label = std::string(strategy_name(curve.strategies[s]));
    line.color = strategy_color(curve.strategies[s]);
    for (std::size_t w = 0; w < curve.windows.size(); ++w) {
      line.x.push_back(static_cast<double>(curve.windows[w]));
      line.y.push_back(curve.accuracy(s, w));
    }
    series.push_back(std::move(line));
  }
  LineChartOptions options;
  options.x_title = "budget w (keys per row, every layer and head)";
  options.y_title = "answers right";
  options.height = height;
  options.format_value = &format_percent;
  options.zero_is_a_value = true;  // no answer right is a result
  draw_line_chart("answer accuracy", series, options);
}

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
    line.color = strategy_color(curves.strategies[s]);
    for (std::size_t w = 0; w < curves.windows.size(); ++w) {
      line.x.push_back(static_cast<double>(curves.windows[w]));
      line.y.push_back(curves.at(layer_index, lab.dam_head, s, w));
    }
    series.push_back(std::move(line));
  }
  LineChartOptions options;
  options.x_title = "budget w (keys per row)";
  options.y_title = "mass recall (mean over rows)";
  const float line = ImGui::GetTextLineHeightWithSpacing();
  // With an accuracy curve the two charts share the height (its title line and the chart's own text aside).
  const float available = ImGui::GetContentRegionAvail().y - line;
  options.height = std::max(160.0f, run.accuracy ? (available - 2 * line) / 2 : available);
  options.format_value = &format_recall;
  draw_line_chart("budget curves", series, options);
  if (run.accuracy) draw_accuracy_curve(*run.accuracy, options.height);
}

}  // namespace dmascope::gui
