// The Mask lab window (lab_panel.cpp) and its views, one file each: they read a finished LabRun and write only their
// own choices into LabPanelState.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "app/gui/app_state.h"
#include "core/lab/lab_head.h"
#include "engine/session/lab_session.h"

namespace dmascope::gui {

void draw_lab_table(AppState& state, const LabRun& run);           // lab_table_view.cpp: sortable metrics table
void draw_lab_overview(AppState& state, const LabRun& run);        // lab_overview_view.cpp: metric per head, labels
void draw_lab_dropped_mass(AppState& state, const std::shared_ptr<const LabRun>& run);   // lab_dropped_mass_view.cpp: dropped-mass overlay
void draw_lab_ab_view(AppState& state);                            // lab_ab_view.cpp: two runs side by side
void draw_lab_budget_curves(AppState& state, const LabRun& run);   // lab_budget_view.cpp: recall vs w
void draw_lab_dam_stages(AppState& state, const LabRun& run);      // lab_dam_stages_view.cpp: DAM stage by stage

nlohmann::json lab_layout_json(const LabPanelState& lab);        // lab_layout_json.cpp: for --layout-json

// lab_session_settings.cpp: the edited settings to and from a session file's "lab" section.
LabSessionSettings lab_session_settings(const LabPanelState& lab);
void apply_lab_session_settings(LabPanelState& lab, const LabSessionSettings& settings);

// lab_view_support.cpp: what several views share.
double lab_metric_value(const StrategyMetrics& metrics, LabMetric metric);
const char* lab_metric_name(LabMetric metric);
// One head of a run as core/lab sees it (the LabLayer the head points into lives beside it).
struct LabHeadView {
  std::unique_ptr<LabLayer> layer;
  LabHead head;
};
LabHeadView lab_head_view(const LabRun& run, std::int64_t layer, std::int64_t head);
// Layer and head pickers over the run's layers; returns true when either changed.
bool lab_layer_head_pickers(const LabRun& run, int& layer, int& head);

}  // namespace dmascope::gui
