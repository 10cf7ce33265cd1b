// Default window placement and the session actions shared by panels and shortcuts.
#include <imgui.h>

#include <fmt/format.h>

#include <cmath>

#include "app/gui/panels/lab_views.h"
#include "app/gui/panels/panels.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/session/session_file.h"

namespace dmascope::gui {

float status_bar_height() { return ImGui::GetFrameHeight() + 2 * ImGui::GetStyle().WindowPadding.y; }

std::pair<ImVec2, ImVec2> default_panel_placement(PanelSlot slot) {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const float height = display.y - status_bar_height();
  // Columns: source/overview 23 %, heatmap 41 %, tile map/timing 36 %.
  const float left = std::floor(display.x * 0.23f), middle = std::floor(display.x * 0.41f);
  const float right = display.x - left - middle;
  ImVec2 position, size;
  switch (slot) {
    case PanelSlot::Source: position = {0, 0}, size = {left, std::floor(height * 0.60f)}; break;
    case PanelSlot::Overview:
      position = {0, std::floor(height * 0.60f)}, size = {left, height - std::floor(height * 0.60f)};
      break;
    case PanelSlot::Heatmap: position = {left, 0}, size = {middle, height}; break;
    case PanelSlot::TileMap: position = {left + middle, 0}, size = {right, std::floor(height * 0.62f)}; break;
    case PanelSlot::Timing:
      position = {left + middle, std::floor(height * 0.62f)}, size = {right, height - std::floor(height * 0.62f)};
      break;
  }
  return {position, size};
}

const char* panel_window_name(PanelSlot slot) {
  switch (slot) {
    case PanelSlot::Source: return "Source";
    case PanelSlot::Overview: return "Overview";
    case PanelSlot::Heatmap: return "Heatmap";
    case PanelSlot::TileMap: return "Tile map";
    case PanelSlot::Timing: return "Timing";
  }
  return "";
}

void place_panel(PanelSlot slot) {
  const auto [position, size] = default_panel_placement(slot);
  // In screenshots (no imgui.ini) this is the layout every time; interactively only the first time.
  ImGui::SetNextWindowPos(position, ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowSize(size, ImGuiCond_FirstUseEver);
}

void draw_stale_badge(ImDrawList* draw_list, ImVec2 at) {
  const char* banner = "stale: these settings are being recomputed";
  const ImVec2 size = ImGui::CalcTextSize(banner);
  draw_list->AddRectFilled(at, ImVec2(at.x + size.x + 12, at.y + size.y + 8), IM_COL32(140, 60, 20, 230));
  draw_list->AddText(ImVec2(at.x + 6, at.y + 4), IM_COL32(255, 255, 255, 255), banner);
}

std::shared_ptr<const PipelineResult> begin_result_panel(AppState& state, PanelSlot slot, const char* title) {
  place_panel(slot);
  if (!ImGui::Begin(title)) {
    ImGui::End();
    return nullptr;
  }
  auto result = state.pipeline.result();
  if (!result) {
    ImGui::TextDisabled("no result yet");
    ImGui::End();
  }
  return result;
}

void panel_png_button(AppState& state, const char* panel) {
  if (ImGui::SmallButton("PNG")) {
    const ImVec2 position = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
    const ImVec2 scale = ImGui::GetIO().DisplayFramebufferScale;
    state.png_request = PngRequest{
        panel_png_name(state.pipeline.result().get(), state.view, panel),
        PixelRect{static_cast<int>(std::lround(position.x * scale.x)), static_cast<int>(std::lround(position.y * scale.y)),
                  static_cast<int>(std::lround(size.x * scale.x)), static_cast<int>(std::lround(size.y * scale.y))}};
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("save this panel as PNG, into the export folder");
}

void save_session_action(AppState& state) {
  try {
    save_session(state.session_path, Session{state.pipeline.settings(), state.view, lab_session_settings(state.lab)});
    state.ui_message = fmt::format("saved session {}", state.session_path);
    state.ui_error.clear();
  } catch (const std::exception& error) {
    state.ui_error = error.what();
  }
}

void load_session_action(AppState& state) {
  try {
    const Session session = load_session(state.session_path);
    state.edit = session.settings;
    // Handed over now, so that the current result is stale from this frame on and the view waits for the new one.
    state.pipeline.set_settings(session.settings);
    state.pending_view = session.view;
    apply_lab_session_settings(state.lab, session.lab);
    state.ui_message = fmt::format("loaded session {}", state.session_path);
    state.ui_error.clear();
  } catch (const std::exception& error) {
    state.ui_error = error.what();
  }
}

}  // namespace dmascope::gui
