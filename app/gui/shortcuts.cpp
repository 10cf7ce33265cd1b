// Keyboard shortcuts for the common moves, and the help window that lists them (F1).
#include <imgui.h>
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <algorithm>

#include "app/gui/panels/panels.h"

namespace dmascope::gui {

namespace {

struct Shortcut {
  const char* keys;
  const char* action;
};

constexpr Shortcut kShortcuts[] = {
    {"wheel / + -", "zoom the heatmap (about the mouse / the centre)"},
    {"drag / arrows", "pan"},
    {"0, Home, double-click", "whole matrix"},
    {"PageUp / PageDown", "previous / next layer"},
    {"[ / ]", "previous / next head"},
    {"M", "mask / probabilities / logits"},
    {"C", "next colormap"},
    {"L", "linear / log scale"},
    {"R", "mean / max reduction"},
    {"D", "dropped-mass overlay on / off (the heatmap's strategy)"},
    {"F5", "recompute"},
    {"Esc", "cancel the running computation"},
    {"Ctrl+S / Ctrl+O", "save / load the session file"},
    {"Ctrl+P", "save the window as PNG (into the export folder)"},
    {"Ctrl+E", "export the masks (safetensors, into the export folder)"},
    {"F1", "this help"},
    {"F2", "about dmascope: bundled models, recall table, the tour"},
    {"F3", "the Mask lab: strategies against dense attention"},
    {"F11", "presenter mode: the guided tour (← → Space step, Esc leaves)"},
    {"Ctrl+Q", "quit (the layout is kept in imgui.ini)"},
};

bool pressed(const AppState& state, int key, bool ctrl = false) {
  for (const KeyPress& press : state.key_presses)
    if (press.key == key && press.ctrl == ctrl) return true;
  return false;
}

}  // namespace

void handle_shortcuts(AppState& state) {
  const ImGuiIO& io = ImGui::GetIO();
  if (io.WantTextInput) return;
  ViewState& view = state.view;
  const auto result = state.pipeline.result();
  const std::int64_t L = result ? result->length() : 0;
  const double view_pixels = 512;  // for clamping only; the heatmap clamps again with its real size
  if (L > 0) {
    const double step = 0.125 * view_pixels;
    if (pressed(state, GLFW_KEY_LEFT)) view.zoom_pan = pan_by_pixels(view.zoom_pan, L, view_pixels, step, 0);
    if (pressed(state, GLFW_KEY_RIGHT)) view.zoom_pan = pan_by_pixels(view.zoom_pan, L, view_pixels, -step, 0);
    if (pressed(state, GLFW_KEY_UP)) view.zoom_pan = pan_by_pixels(view.zoom_pan, L, view_pixels, 0, step);
    if (pressed(state, GLFW_KEY_DOWN)) view.zoom_pan = pan_by_pixels(view.zoom_pan, L, view_pixels, 0, -step);
    if (pressed(state, GLFW_KEY_EQUAL) || pressed(state, GLFW_KEY_KP_ADD))
      view.zoom_pan = zoom_about(view.zoom_pan, L, view_pixels, 1.5, 0.5, 0.5);
    if (pressed(state, GLFW_KEY_MINUS) || pressed(state, GLFW_KEY_KP_SUBTRACT))
      view.zoom_pan = zoom_about(view.zoom_pan, L, view_pixels, 1 / 1.5, 0.5, 0.5);
    if (pressed(state, GLFW_KEY_0) || pressed(state, GLFW_KEY_HOME)) view.zoom_pan = whole_matrix(L);
    if (pressed(state, GLFW_KEY_PAGE_UP)) view.layer = std::max<std::int64_t>(0, view.layer - 1);
    if (pressed(state, GLFW_KEY_PAGE_DOWN)) view.layer = std::min(result->layers() - 1, view.layer + 1);
    if (pressed(state, GLFW_KEY_LEFT_BRACKET)) view.head = std::max<std::int64_t>(0, view.head - 1);
    if (pressed(state, GLFW_KEY_RIGHT_BRACKET)) view.head = std::min(result->q_heads() - 1, view.head + 1);
    if (pressed(state, GLFW_KEY_M))  // mask → probs → logits → mask
      view.quantity = view.quantity == HeatmapQuantity::Mask     ? HeatmapQuantity::Probabilities
                      : view.quantity == HeatmapQuantity::Logits ? HeatmapQuantity::Mask
                                                                 : HeatmapQuantity::Logits;
  }
  if (pressed(state, GLFW_KEY_C))
    view.colormap = kColormaps[(static_cast<int>(view.colormap) + 1) % std::size(kColormaps)];
  if (pressed(state, GLFW_KEY_L))
    view.scale = view.scale == ColorScale::Linear ? ColorScale::Log : ColorScale::Linear;
  if (pressed(state, GLFW_KEY_D)) state.heatmap.show_dropped_mass = !state.heatmap.show_dropped_mass;
  if (pressed(state, GLFW_KEY_R))
    view.reduce = view.reduce == ReduceMode::Mean ? ReduceMode::Max : ReduceMode::Mean;
  if (pressed(state, GLFW_KEY_F5)) state.pipeline.retry();
  if (pressed(state, GLFW_KEY_ESCAPE)) state.pipeline.cancel();
  if (pressed(state, GLFW_KEY_F1)) state.show_help = !state.show_help;
  if (pressed(state, GLFW_KEY_F2)) state.about.open = !state.about.open;
  if (pressed(state, GLFW_KEY_F3)) state.lab.open = !state.lab.open;
  if (pressed(state, GLFW_KEY_S, true)) save_session_action(state);
  if (pressed(state, GLFW_KEY_O, true)) load_session_action(state);
  if (pressed(state, GLFW_KEY_P, true)) state.png_request = PngRequest{window_png_name(state.pipeline.result().get(), state.view), std::nullopt};
  if (pressed(state, GLFW_KEY_E, true)) export_masks_action(state);
  if (pressed(state, GLFW_KEY_Q, true)) state.quit_requested = true;
}

void draw_help_window(AppState& state) {
  if (!state.show_help) return;
  ImGui::SetNextWindowPos(ImVec2(ImGui::GetIO().DisplaySize.x * 0.5f, ImGui::GetIO().DisplaySize.y * 0.3f),
                          ImGuiCond_Appearing, ImVec2(0.5f, 0.0f));
  if (ImGui::Begin("Keyboard shortcuts", &state.show_help, ImGuiWindowFlags_AlwaysAutoResize)) {
    if (ImGui::BeginTable("shortcuts", 2, ImGuiTableFlags_RowBg)) {
      for (const Shortcut& shortcut : kShortcuts) {
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        ImGui::TextUnformatted(shortcut.keys);
        ImGui::TableSetColumnIndex(1);
        ImGui::TextUnformatted(shortcut.action);
      }
      ImGui::EndTable();
    }
  }
  ImGui::End();
}

}  // namespace dmascope::gui
