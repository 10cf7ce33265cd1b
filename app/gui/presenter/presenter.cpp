#include "app/gui/presenter/presenter.h"

#include <fmt/format.h>
#include <imgui.h>
#include <imgui_internal.h>  // FindWindowByName: to remember where the panels were before the presentation
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <algorithm>
#include <cmath>

#include "app/gui/engine_vocabulary.h"
#include "engine/session/bundled_assets.h"
#include "app/gui/panels/panels.h"

namespace dmascope::gui {

namespace {

// The panels a presentation shows, with their window names (the Source panel is hidden: the tour sets the source).
enum class Slot { Heatmap, TileMap, Overview, Timing };
struct PresentedPanel {
  const char* window_name;
  Slot slot;
};
constexpr PresentedPanel kPresentedPanels[] = {
    {"Heatmap", Slot::Heatmap}, {"Tile map", Slot::TileMap}, {"Overview", Slot::Overview}, {"Timing", Slot::Timing}};

constexpr int kCaptionLines = 4;  // a 3-sentence caption of kMaxCaptionBytes wraps to about this at 1600 px

ImFont* presenter_font() {
  ImFontAtlas* atlas = ImGui::GetIO().Fonts;
  return atlas->Fonts.Size > 1 ? atlas->Fonts[1] : nullptr;
}

// Title line + caption lines, with the window padding; in the current (large) font.
float caption_bar_height() {
  return (1 + kCaptionLines) * ImGui::GetTextLineHeightWithSpacing() + 2 * ImGui::GetStyle().WindowPadding.y +
         ImGui::GetStyle().ItemSpacing.y;
}

// The presentation layout of the space above the caption bar: the heatmap on the left half (it is the subject of
// most steps), the tile map above the overview and the timing on the right.
std::pair<ImVec2, ImVec2> presented_placement(Slot slot) {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const float height = display.y - status_bar_height() - caption_bar_height();
  const float left = std::floor(display.x * 0.5f), right = display.x - left;
  const float top = std::floor(height * 0.56f), half_right = std::floor(right * 0.5f);
  switch (slot) {
    case Slot::Heatmap: return {{0, 0}, {left, height}};
    case Slot::TileMap: return {{left, 0}, {right, top}};
    case Slot::Overview: return {{left, top}, {half_right, height - top}};
    case Slot::Timing: return {{left + half_right, top}, {right - half_right, height - top}};
  }
  return {};
}

void save_placement(PresenterState& presenter) {
  presenter.saved_placement.clear();
  for (const PresentedPanel& panel : kPresentedPanels)
    if (const ImGuiWindow* window = ImGui::FindWindowByName(panel.window_name))
      presenter.saved_placement[panel.window_name] = {window->Pos, window->SizeFull};
  presenter.placement_saved = true;
}

bool pressed_and_taken(std::vector<KeyPress>& presses, std::initializer_list<int> keys) {
  bool found = false;
  for (auto press = presses.begin(); press != presses.end();) {
    if (!press->ctrl && std::find(keys.begin(), keys.end(), press->key) != keys.end()) {
      found = true;
      press = presses.erase(press);
    } else {
      ++press;
    }
  }
  return found;
}

void draw_caption_bar(PresenterState& presenter) {
  const TourStep& step = presenter.tour->steps[presenter.step];
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const float height = caption_bar_height();
  const ImVec2 position(0, display.y - status_bar_height() - height);
  ImGui::SetNextWindowPos(position);
  ImGui::SetNextWindowSize(ImVec2(display.x, height));
  constexpr ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                     ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoFocusOnAppearing |
                                     ImGuiWindowFlags_NoNav;
  ImGui::PushStyleColor(ImGuiCol_WindowBg, ImVec4(0.13f, 0.16f, 0.24f, 1.0f));
  ImGui::Begin("##presenter caption", nullptr, flags);
  ImGui::TextColored(ImVec4(1.0f, 0.82f, 0.35f, 1.0f), "%s", fmt::format("{} / {}", presenter.step + 1,
                                                                          presenter.tour->steps.size()).c_str());
  ImGui::SameLine();
  ImGui::TextUnformatted(step.title.c_str());
  const char* hint = "\xe2\x86\x90 \xe2\x86\x92  Space  PgUp PgDn: step      Esc: leave";  // ← →
  const float hint_width = ImGui::CalcTextSize(hint).x;
  ImGui::SameLine(std::max(ImGui::GetCursorPosX(), ImGui::GetWindowContentRegionMax().x - hint_width));
  ImGui::TextDisabled("%s", hint);
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextUnformatted(step.caption.c_str());
  ImGui::PopTextWrapPos();
  ImGui::End();
  ImGui::PopStyleColor();
  presenter.caption_drawn = true;
  presenter.caption_rect = ImVec4(position.x, position.y, display.x, height);
}

}  // namespace

void show_tour_step(AppState& state, std::size_t step) {
  PresenterState& presenter = state.presenter;
  if (!presenter.tour) return;
  presenter.step = std::min(step, presenter.tour->steps.size() - 1);
  const Session& session = presenter.tour->steps[presenter.step].session;
  // As loading a session does: the settings now (the current result turns stale), the view when their result comes.
  state.edit = session.settings;
  state.pipeline.set_settings(session.settings);
  state.pending_view = session.view;
}

void start_presenter(AppState& state, Tour tour, std::size_t step) {
  PresenterState& presenter = state.presenter;
  presenter.tour = std::move(tour);
  if (!presenter.active) presenter.placement_saved = false;  // saved at the first presenting frame
  presenter.active = true;
  presenter.restore_pending = false;
  show_tour_step(state, step);
}

void start_bundled_tour(AppState& state) {
  if (state.presenter.tour) {
    start_presenter(state, *state.presenter.tour, state.presenter.step);
    return;
  }
  try {
    start_presenter(state, load_tour(bundled_tour()), 0);
  } catch (const std::exception& error) {
    state.ui_error = error.what();
  }
}

void stop_presenter(AppState& state) {
  PresenterState& presenter = state.presenter;
  if (!presenter.active) return;
  presenter.active = false;
  presenter.restore_pending = presenter.placement_saved;
  presenter.caption_drawn = false;
}

void handle_presenter_keys(AppState& state) {
  if (ImGui::GetIO().WantTextInput) return;
  std::vector<KeyPress>& presses = state.key_presses;
  if (pressed_and_taken(presses, {GLFW_KEY_F11})) {
    if (state.presenter.active) stop_presenter(state);
    else start_bundled_tour(state);
    return;
  }
  PresenterState& presenter = state.presenter;
  if (!presenter.active || !presenter.tour) return;
  const std::size_t last = presenter.tour->steps.size() - 1;
  if (pressed_and_taken(presses, {GLFW_KEY_RIGHT, GLFW_KEY_PAGE_DOWN, GLFW_KEY_SPACE}) && presenter.step < last)
    show_tour_step(state, presenter.step + 1);
  if (pressed_and_taken(presses, {GLFW_KEY_LEFT, GLFW_KEY_PAGE_UP}) && presenter.step > 0)
    show_tour_step(state, presenter.step - 1);
  if (pressed_and_taken(presses, {GLFW_KEY_HOME})) show_tour_step(state, 0);
  if (pressed_and_taken(presses, {GLFW_KEY_END})) show_tour_step(state, last);
  if (pressed_and_taken(presses, {GLFW_KEY_ESCAPE})) stop_presenter(state);
}

void begin_presenter_frame(AppState& state) {
  PresenterState& presenter = state.presenter;
  if (presenter.restore_pending) {
    for (const auto& [name, placement] : presenter.saved_placement) {
      ImGui::SetWindowPos(name.c_str(), placement.first, ImGuiCond_Always);
      ImGui::SetWindowSize(name.c_str(), placement.second, ImGuiCond_Always);
    }
    presenter.restore_pending = false;
  }
  if (!presenter.active) return;
  if (!presenter.placement_saved) save_placement(presenter);
  if (ImFont* font = presenter_font()) {
    ImGui::PushFont(font);
    presenter.font_pushed = true;
  }
  // Windows that exist already are moved now; on the very first frame they do not, and take it from the next one.
  for (const PresentedPanel& panel : kPresentedPanels) {
    const auto [position, size] = presented_placement(panel.slot);
    ImGui::SetWindowPos(panel.window_name, position, ImGuiCond_Always);
    ImGui::SetWindowSize(panel.window_name, size, ImGuiCond_Always);
  }
}

void end_presenter_frame(AppState& state) {
  PresenterState& presenter = state.presenter;
  if (presenter.active && presenter.tour) draw_caption_bar(presenter);
  if (presenter.font_pushed) ImGui::PopFont();
  presenter.font_pushed = false;
}

}  // namespace dmascope::gui
