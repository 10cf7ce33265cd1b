// The Mask lab's metrics table: one row per (layer, head, strategy), sortable by any column (click a header).
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "app/gui/panels/lab_views.h"
#include "app/gui/panels/panels.h"
#include "core/formats/atomic_write.h"
#include "engine/lab/lab_table.h"
#include "app/gui/render/number_format.h"

namespace dmascope::gui {

namespace {

enum Column { kLayer, kHead, kStrategy, kTokens, kTiles, kRecall, kRecallMin, kError, kEmpty, kGpuMs, kColumns };

double sort_key(const LabRow& row, int column) {
  const StrategyMetrics& m = row.metrics;
  switch (column) {
    case kLayer: return static_cast<double>(row.layer);
    case kHead: return static_cast<double>(row.head);
    case kStrategy: return static_cast<double>(m.strategy);
    case kTokens: return m.token_density;
    case kTiles: return m.tile_density;
    case kRecall: return m.mass_recall_mean;
    case kRecallMin: return m.mass_recall_min;
    case kError: return m.output_rel_error;
    case kEmpty: return static_cast<double>(m.empty_rows);
    case kGpuMs: return m.gpu_ms;
  }
  return 0;
}

std::string number_or_nan(double value, bool non_finite) {
  return non_finite ? std::string("NaN") : fmt::format("{:.4f}", value);
}

}  // namespace

void draw_lab_table(AppState& state, const LabRun& run) {
  LabPanelState& lab = state.lab;
  const auto& rows = run.result.rows;
  if (ImGui::SmallButton("CSV")) {
    const std::string text = lab_rows_csv(run.result);
    export_file_action(state, "mask lab CSV",
                       export_name({"dmascope-lab", run.source->model->name(), fmt::format("L{}", run.result.length),
                                    fmt::format("w{}", run.result.window)},
                                   "csv"),
                       [&text](const std::filesystem::path& path) { write_file_atomically(path, text); });
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("save these rows as CSV, into the export folder");
  const ImGuiTableFlags flags = ImGuiTableFlags_Sortable | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit;
  // The GPU time column only when the metrics ran on a GPU (gpu_ms is NaN otherwise).
  const bool timed = std::any_of(rows.begin(), rows.end(), [](const LabRow& row) { return std::isfinite(row.metrics.gpu_ms); });
  const int columns = timed ? kColumns : kGpuMs;
  if (!ImGui::BeginTable("lab metrics", columns, flags)) return;
  const char* const names[kColumns] = {"layer", "head", "strategy", "token density", "tile density",
                                       "recall mean", "recall min", "output error", "empty rows", "GPU ms"};
  ImGui::TableSetupScrollFreeze(0, 1);
  for (int c = 0; c < columns; ++c)
    ImGui::TableSetupColumn(names[c], c == kLayer ? ImGuiTableColumnFlags_DefaultSort : 0);
  ImGui::TableHeadersRow();
  if (ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs(); specs && specs->SpecsCount > 0) {
    lab.sort_column = specs->Specs[0].ColumnIndex;
    lab.sort_descending = specs->Specs[0].SortDirection == ImGuiSortDirection_Descending;
  }
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const double ka = sort_key(rows[a], lab.sort_column), kb = sort_key(rows[b], lab.sort_column);
    return lab.sort_descending ? ka > kb : ka < kb;
  });
  ImGuiListClipper clipper;  // draw only the visible rows
  clipper.Begin(static_cast<int>(order.size()));
  while (clipper.Step()) {
    for (int r = clipper.DisplayStart; r < clipper.DisplayEnd; ++r) {
      const LabRow& row = rows[order[static_cast<std::size_t>(r)]];
      const StrategyMetrics& m = row.metrics;
      ImGui::TableNextRow();
      ImGui::TableNextColumn(), ImGui::Text("%lld", static_cast<long long>(row.layer));
      ImGui::TableNextColumn(), ImGui::Text("%lld", static_cast<long long>(row.head));
      ImGui::TableNextColumn(), ImGui::TextUnformatted(std::string(strategy_name(m.strategy)).c_str());
      ImGui::TableNextColumn(), ImGui::TextUnformatted(format_percent(m.token_density).c_str());
      ImGui::TableNextColumn(), ImGui::TextUnformatted(format_percent(m.tile_density).c_str());
      ImGui::TableNextColumn(), ImGui::TextUnformatted(number_or_nan(m.mass_recall_mean, m.non_finite).c_str());
      ImGui::TableNextColumn(), ImGui::TextUnformatted(number_or_nan(m.mass_recall_min, m.non_finite).c_str());
      ImGui::TableNextColumn(), ImGui::TextUnformatted(number_or_nan(m.output_rel_error, m.non_finite).c_str());
      ImGui::TableNextColumn(), ImGui::Text("%lld", static_cast<long long>(m.empty_rows));
      if (timed) {
        // Which kernel the time is of: the DMA kernels (dma, shared, swa, sinks) or the generic gather kernel.
        ImGui::TableNextColumn(), ImGui::TextUnformatted(fmt::format("{:.3f} {}", m.gpu_ms, m.gpu_kernel).c_str());
        if (ImGui::IsItemHovered())
          ImGui::SetTooltip("%s", m.gpu_kernel == "dma" ? "timed on the bf16 DMA kernels (mask build included for dma and shared)"
                                                        : "timed on the generic fp32 gather kernel");
      }
    }
  }
  ImGui::EndTable();
}

}  // namespace dmascope::gui
