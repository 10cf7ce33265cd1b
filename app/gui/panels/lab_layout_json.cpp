// The Mask lab's part of --layout-json: which view the frame showed, where its picture lay, and the engine's numbers
// behind it, so that screenshot tests can check the picture against the lab's own results.
#include <nlohmann/json.hpp>

#include "app/gui/panels/lab_views.h"
#include "engine/lab/lab_table.h"

namespace dmascope::gui {

nlohmann::json lab_layout_json(const LabPanelState& lab) {
  nlohmann::json document;
  document["tab"] = lab.drawn_tab;
  document["picture"] = {lab.drawn_picture[0], lab.drawn_picture[1], lab.drawn_picture[2], lab.drawn_picture[3]};
  const auto& runs = lab.runner.runs();
  document["runs"] = runs.size();
  document["error"] = lab.runner.status().error;
  if (runs.empty()) return document;
  const LabRun& run = *runs.back();
  nlohmann::json rows = nlohmann::json::array();
  for (const LabRow& row : run.result.rows)
    rows.push_back({{"layer", row.layer}, {"head", row.head}, {"strategy", strategy_name(row.metrics.strategy)},
                    {"kept_entries", row.metrics.kept_entries}, {"token_density", row.metrics.token_density},
                    {"mass_recall_mean", row.metrics.mass_recall_mean}});
  document["rows"] = rows;
  document["length"] = run.result.length;
  document["window"] = run.result.window;
  document["layer"] = lab.dam_layer;
  document["head"] = lab.dam_head;
  if (run.accuracy) document["accuracy"] = accuracy_curve_json(*run.accuracy);
  const KeptSetDiff& counts = lab.ab_job.finished().counts;
  document["ab"] = {{"gained", counts.gained}, {"lost", counts.lost}, {"common", counts.common}};
  const auto index = static_cast<std::size_t>(lab.dam_layer * run.result.heads + lab.dam_head);
  if (index < run.result.dam.size()) {
    const DamHeadMask& mask = run.result.dam[index];
    std::int64_t true_cells = 0;
    for (std::uint8_t kept : mask.true_mask) true_cells += kept;
    document["dam"] = {{"capture_length", mask.capture_length}, {"true_cells", true_cells},
                       {"matched_diagonals", mask.matched_diagonals.size()},
                       {"matched_verticals", mask.matched_verticals.size()}};
  }
  return document;
}

}  // namespace dmascope::gui
