// The panels: each draws from AppState and writes settings or view state back. One file each.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "app/gui/app_state.h"

namespace dmascope::gui {

void draw_source_panel(AppState& state);    // source_panel.cpp: model, sequence, compute settings, session, PNG
void draw_overview_panel(AppState& state);  // overview_panel.cpp: layer × head thumbnails
void draw_heatmap_panel(AppState& state);   // heatmap_panel.cpp: one head's mask or probabilities, β strip
void draw_tile_map_panel(AppState& state);  // tile_map_panel.cpp: skipped / partial / full tiles
void draw_timing_panel(AppState& state);    // timing_panel.cpp: DMA vs dense for the current layer
void draw_lab_window(AppState& state);      // lab_panel.cpp: the mask lab: strategies vs dense, its views
void draw_status_bar(AppState& state);      // status_bar.cpp: backend, model, L, compute time, progress, errors
void draw_help_window(AppState& state);     // shortcuts.cpp
void draw_about_window(AppState& state);
void draw_beta_pipeline_window(AppState& state);  // beta_pipeline_window.cpp: one key's β, stage by stage    // about_window.cpp: what dmascope is, bundled models, recall table
void handle_shortcuts(AppState& state);     // shortcuts.cpp

// Default window placement (first launch, and always in screenshots): fractions of the display.
enum class PanelSlot { Source, Overview, Heatmap, TileMap, Timing };
void place_panel(PanelSlot slot);
std::pair<ImVec2, ImVec2> default_panel_placement(PanelSlot slot);  // position, size
const char* panel_window_name(PanelSlot slot);                       // "Source", "Tile map", ...
// A panel that draws the pipeline's result: places and begins its window and returns the result; returns null, with
// the window already ended, when the window is collapsed or there is no result yet (then it says so).
std::shared_ptr<const PipelineResult> begin_result_panel(AppState& state, PanelSlot slot, const char* title);
float status_bar_height();
// "stale: these settings are being recomputed" over a picture's top-left corner: every picture of the result says so,
// not just the heatmap, while F5 or a settings change recomputes it.
void draw_stale_badge(ImDrawList* draw_list, ImVec2 at);

// Session actions shared by the Source panel and the shortcuts; they report into ui_message / ui_error.
void save_session_action(AppState& state);
void load_session_action(AppState& state);
void export_masks_action(AppState& state);  // mask_export_action.cpp: the result's masks as safetensors
// A small "PNG" button that saves the current panel window (its part of the frame) into the export folder.
void panel_png_button(AppState& state, const char* panel);

// Every export (PNG, CSV, masks) goes through this (export_action.cpp): `write(path)` writes the whole file; it is
// published into state.export_folder by export_files.h's rule, and the status bar names the path written, or says
// "<what>: cannot write <path>: <reason>". Returns the path written, or nothing after an error.
std::optional<std::filesystem::path> export_file_action(AppState& state, std::string_view what,
                                                        const ExportName& name,
                                                        const std::function<void(const std::filesystem::path&)>& write);

}  // namespace dmascope::gui
