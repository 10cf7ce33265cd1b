// The Mask lab's overview: per head the chosen metric for every strategy, heads sorted by it (click a strategy's
// header; by default the first strategy's value, worst first), each head labelled by DAM's pattern matching on its
// calibrated map (sink / local / vertical / diagonal / content; "—" when dam was not run).
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "app/gui/panels/lab_views.h"

namespace dmascope::gui {

namespace {

struct HeadRow {
  std::int64_t layer = 0, head = 0;
  std::vector<double> values;  // per strategy of the run, in the run's order
};

}  // namespace

void draw_lab_overview(AppState& state, const LabRun& run) {
  LabPanelState& lab = state.lab;
  const char* const metric_names[] = {lab_metric_name(LabMetric::Recall), lab_metric_name(LabMetric::OutputError),
                                      lab_metric_name(LabMetric::TokenDensity),
                                      lab_metric_name(LabMetric::TileDensity)};
  int metric = static_cast<int>(lab.overview_metric);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
  if (ImGui::Combo("metric", &metric, metric_names, IM_ARRAYSIZE(metric_names)))
    lab.overview_metric = static_cast<LabMetric>(metric);
  const auto& strategies = run.settings.strategies;
  std::map<std::pair<std::int64_t, std::int64_t>, HeadRow> by_head;
  for (const LabRow& row : run.result.rows) {
    HeadRow& head = by_head[{row.layer, row.head}];
    head.layer = row.layer, head.head = row.head;
    head.values.push_back(lab_metric_value(row.metrics, lab.overview_metric));
  }
  std::vector<HeadRow> heads;
  for (auto& [key, row] : by_head) heads.push_back(std::move(row));
  const int columns = 3 + static_cast<int>(strategies.size());
  if (!ImGui::BeginTable("lab overview", columns,
                         ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit |
                             ImGuiTableFlags_Sortable))
    return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("layer");
  ImGui::TableSetupColumn("head");
  ImGui::TableSetupColumn("DAM label", ImGuiTableColumnFlags_NoSort);
  // Worst first by default: lowest recall, highest error or density of the first strategy.
  const bool recall = lab.overview_metric == LabMetric::Recall;
  const ImGuiTableColumnFlags worst_first =
      recall ? ImGuiTableColumnFlags_PreferSortAscending : ImGuiTableColumnFlags_PreferSortDescending;
  for (std::size_t s = 0; s < strategies.size(); ++s)
    ImGui::TableSetupColumn(std::string(strategy_name(strategies[s])).c_str(),
                            worst_first | (s == 0 ? ImGuiTableColumnFlags_DefaultSort : 0));
  ImGui::TableHeadersRow();
  int sort_column = 3;
  bool descending = !recall;
  if (const ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs(); specs && specs->SpecsCount > 0) {
    sort_column = specs->Specs[0].ColumnIndex;
    descending = specs->Specs[0].SortDirection == ImGuiSortDirection_Descending;
  }
  const auto key_of = [sort_column](const HeadRow& row) {
    if (sort_column == 0) return static_cast<double>(row.layer);
    if (sort_column == 1) return static_cast<double>(row.head);
    const auto s = static_cast<std::size_t>(sort_column - 3);
    return s < row.values.size() ? row.values[s] : 0.0;
  };
  std::stable_sort(heads.begin(), heads.end(), [&](const HeadRow& a, const HeadRow& b) {
    return descending ? key_of(a) > key_of(b) : key_of(a) < key_of(b);
  });
  const float bar_width = ImGui::GetFontSize() * 5;
  for (const HeadRow& row : heads) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn(), ImGui::Text("%lld", static_cast<long long>(row.layer));
    ImGui::TableNextColumn(), ImGui::Text("%lld", static_cast<long long>(row.head));
    ImGui::TableNextColumn();
    const auto label_index = static_cast<std::size_t>(row.layer * run.result.heads + row.head);
    ImGui::TextUnformatted(label_index < run.result.head_labels.size()
                               ? std::string(head_label_name(run.result.head_labels[label_index])).c_str()
                               : "—");
    for (double value : row.values) {
      ImGui::TableNextColumn();
      // A bar for values in [0, 1] (recall, densities; errors are clamped) with the number over it.
      const ImVec2 at = ImGui::GetCursorScreenPos();
      const float height = ImGui::GetTextLineHeight();
      const float filled = bar_width * static_cast<float>(std::clamp(value, 0.0, 1.0));
      ImDrawList* draw_list = ImGui::GetWindowDrawList();
      draw_list->AddRectFilled(at, ImVec2(at.x + filled, at.y + height), IM_COL32(60, 110, 170, 200));
      draw_list->AddRect(at, ImVec2(at.x + bar_width, at.y + height), IM_COL32(120, 120, 130, 255));
      ImGui::TextUnformatted(std::isfinite(value) ? fmt::format("{:.3f}", value).c_str() : "NaN");
      ImGui::SameLine(0, 0), ImGui::Dummy(ImVec2(std::max(0.0f, bar_width - ImGui::GetItemRectSize().x), height));
    }
  }
  ImGui::EndTable();
}

}  // namespace dmascope::gui
