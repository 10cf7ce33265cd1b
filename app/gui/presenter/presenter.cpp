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
#include "app/gui/panels/lab_views.h"
#include "app/gui/panels/panels.h"

namespace dmascope::gui {

namespace {

struct PresentedPanel {
  TourPanel panel;
  PanelSlot slot;
};
constexpr PresentedPanel kPresentedPanels[] = {{TourPanel::Heatmap, PanelSlot::Heatmap},
                                               {TourPanel::TileMap, PanelSlot::TileMap},
                                               {TourPanel::Overview, PanelSlot::Overview},
                                               {TourPanel::Timing, PanelSlot::Timing}};
constexpr PanelSlot kAllPanels[] = {PanelSlot::Source, PanelSlot::Overview, PanelSlot::Heatmap, PanelSlot::TileMap,
                                    PanelSlot::Timing};

// Below this display height the panels keep the UI font and only the caption bar is large: at 720 pixels the large
// font would leave the heatmap a fraction of the screen.
constexpr float kLargePanelFontMinHeight = 1000.0f;

ImFont* presenter_font() {
  ImFontAtlas* atlas = ImGui::GetIO().Fonts;
  return atlas->Fonts.Size > 1 ? atlas->Fonts[1] : nullptr;
}

const TourStep& current_step(const PresenterState& presenter) { return presenter.tour->steps[presenter.step]; }

// Title line + the caption wrapped to the window's width, with the window padding; in the presenter font.
float caption_bar_height(const TourStep& step) {
  ImFont* font = presenter_font();
  if (font) ImGui::PushFont(font);
  const ImGuiStyle& style = ImGui::GetStyle();
  const float wrap = ImGui::GetIO().DisplaySize.x - 2 * style.WindowPadding.x;
  const float caption = ImGui::CalcTextSize(step.caption.c_str(), nullptr, false, wrap).y;
  const float height = ImGui::GetTextLineHeightWithSpacing() + caption + 2 * style.WindowPadding.y + style.ItemSpacing.y;
  if (font) ImGui::PopFont();
  return std::ceil(height);
}

bool square_picture(TourPanel panel) { return panel == TourPanel::Heatmap || panel == TourPanel::TileMap; }

// The step's panels over the space above the caption bar: one takes all of it; of two, a square picture (heatmap,
// tile map) next to a panel of text gets the width its square needs at this height, two of a kind share it evenly.
std::pair<ImVec2, ImVec2> presented_placement(const std::vector<TourPanel>& panels, std::size_t index,
                                              float caption_height) {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const float height = display.y - status_bar_height() - caption_height;
  if (panels.size() == 1) return {{0, 0}, {display.x, height}};
  float first = std::floor(display.x * 0.5f);
  const float square_width = height + ImGui::GetFontSize() * 7;  // the heatmap's axis labels and padding
  if (square_picture(panels[0]) && !square_picture(panels[1])) first = std::min(square_width, display.x * 0.62f);
  if (!square_picture(panels[0]) && square_picture(panels[1]))
    first = display.x - std::min(square_width, display.x * 0.62f);
  first = std::floor(first);
  return index == 0 ? std::pair<ImVec2, ImVec2>{{0, 0}, {first, height}}
                    : std::pair<ImVec2, ImVec2>{{first, 0}, {display.x - first, height}};
}

// Where each panel is now: its window's place, or the place imgui.ini gave it when the window has not been drawn yet
// this run; neither (a first launch straight into the presentation): none, and leaving puts it at its default place.
void save_placement(PresenterState& presenter) {
  presenter.saved_placement.clear();
  for (const PanelSlot slot : kAllPanels) {
    const char* name = panel_window_name(slot);
    if (const ImGuiWindow* window = ImGui::FindWindowByName(name))
      presenter.saved_placement[name] = {window->Pos, window->SizeFull};
    else if (const ImGuiWindowSettings* settings = ImGui::FindWindowSettings(ImHashStr(name)))
      presenter.saved_placement[name] = {ImVec2(settings->Pos.x, settings->Pos.y),
                                         ImVec2(settings->Size.x, settings->Size.y)};
  }
  presenter.placement_saved = true;
}

void restore_placement(const PresenterState& presenter) {
  for (const PanelSlot slot : kAllPanels) {
    const char* name = panel_window_name(slot);
    const auto saved = presenter.saved_placement.find(name);
    const auto [position, size] = saved != presenter.saved_placement.end() ? saved->second : default_panel_placement(slot);
    ImGui::SetWindowPos(name, position, ImGuiCond_Always);
    ImGui::SetWindowSize(name, size, ImGuiCond_Always);
  }
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
  const TourStep& step = current_step(presenter);
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const float height = caption_bar_height(step);
  const ImVec2 position(0, display.y - status_bar_height() - height);  // in the status bar's font
  ImFont* font = presenter.font_pushed ? nullptr : presenter_font();  // the caption is large on every display
  if (font) ImGui::PushFont(font);
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
  if (font) ImGui::PopFont();
  presenter.caption_drawn = true;
  presenter.caption_rect = ImVec4(position.x, position.y, display.x, height);
}


// The callout next to a highlighted region: what to look at there.
const char* highlight_callout(TourHighlight highlight) {
  switch (highlight) {
    case TourHighlight::None: return "";
    case TourHighlight::BetaStrip: return "β: one number per key, computed from the key's value vector";
    case TourHighlight::DeathIndices: return "red marks: each key's death index, the first row that drops it";
    case TourHighlight::Answers: return "answer rings: ○ kept, ✕ dropped by this head";
    case TourHighlight::SkippedTiles: return "grey tiles hold no kept entry";
    case TourHighlight::GatheredKeys: return "the work the kernels really do: keys gathered per query tile";
    case TourHighlight::DensityLabels: return "share of causal entries kept, and answers' values kept, per head";
  }
  return "";
}

// An amber frame around the step's region and its callout above it (below when there is no room), over everything.
void draw_highlight(const AppState& state) {
  const TourHighlight highlight = current_step(state.presenter).highlight;
  const auto region = state.layout.regions.find(highlight);
  if (highlight == TourHighlight::None || region == state.layout.regions.end()) return;
  constexpr ImU32 kFrame = IM_COL32(255, 190, 40, 255), kCalloutBackground = IM_COL32(60, 40, 0, 235);
  ImDrawList* draw_list = ImGui::GetForegroundDrawList();
  for (const ImVec4& rect : region->second)
    draw_list->AddRect(ImVec2(rect.x - 4, rect.y - 4), ImVec2(rect.z + 4, rect.w + 4), kFrame, 6.0f, 0, 3.0f);
  if (region->second.empty()) return;
  const ImVec4 first = region->second.front();
  const ImVec2 min(first.x - 4, first.y - 4), max(first.z + 4, first.w + 4);
  const char* text = highlight_callout(highlight);
  const ImVec2 size = ImGui::CalcTextSize(text);
  const float display_width = ImGui::GetIO().DisplaySize.x;
  // Beside the region when there is room, so that it covers nothing the step talks about; else under a region of a
  // line or two (above it would hide the line before, often the number the caption cites); else above it.
  float x = 0, y = 0;
  if (max.x + 8 + size.x + 12 <= display_width - 4) {
    x = max.x + 8;
    y = min.y;
  } else {
    x = std::clamp(min.x, 4.0f, std::max(4.0f, display_width - size.x - 16));
    const float above = min.y - size.y - 10;
    const bool few_lines = max.y - min.y <= 3 * ImGui::GetTextLineHeightWithSpacing();
    y = few_lines || above < 0 ? max.y + 4 : above;
  }
  draw_list->AddRectFilled(ImVec2(x, y), ImVec2(x + size.x + 12, y + size.y + 6), kCalloutBackground, 4.0f);
  draw_list->AddRect(ImVec2(x, y), ImVec2(x + size.x + 12, y + size.y + 6), kFrame, 4.0f, 0, 2.0f);
  draw_list->AddText(ImVec2(x + 6, y + 3), IM_COL32(255, 240, 200, 255), text);
}

}  // namespace

bool presenter_shows(const AppState& state, TourPanel panel) {
  const PresenterState& presenter = state.presenter;
  if (!presenter.active || !presenter.tour) return true;
  const auto& panels = current_step(presenter).panels;
  return std::find(panels.begin(), panels.end(), panel) != panels.end();
}

TourHighlight presenter_highlight(const AppState& state) {
  const PresenterState& presenter = state.presenter;
  return presenter.active && presenter.tour ? current_step(presenter).highlight : TourHighlight::None;
}

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
  if (!presenter.active) {
    presenter.placement_saved = false;  // saved at the first presenting frame
    // The settings being edited are the user's (a launch with --present: the session it was given); the view is the
    // one still waiting for its result, if any.
    presenter.user_session =
        Session{state.edit, state.pending_view ? *state.pending_view : state.view, lab_session_settings(state.lab)};
    presenter.user_selected_answer = state.selected_answer;
  }
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
  if (presenter.user_session) {  // as a session load: the settings now, the view with their result
    state.edit = presenter.user_session->settings;
    state.pipeline.set_settings(state.edit);
    state.pending_view = presenter.user_session->view;
    state.selected_answer = presenter.user_selected_answer;
    presenter.user_session.reset();
  }
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
  ImGuiIO& io = ImGui::GetIO();
  if (presenter.restore_pending) {
    restore_placement(presenter);
    presenter.restore_pending = false;
  }
  if (!presenter.active) {  // the user's layout is back: imgui.ini may record it again
    presenter.ini_suspended = false;
    return;
  }
  if (!presenter.placement_saved) save_placement(presenter);
  presenter.ini_suspended = true;
  if (ImFont* font = presenter_font(); font && io.DisplaySize.y >= kLargePanelFontMinHeight) {
    ImGui::PushFont(font);
    presenter.font_pushed = true;
  }
  // Windows that exist already are moved now; on the very first frame they do not, and take it from the next one.
  const TourStep& step = current_step(presenter);
  const float caption_height = caption_bar_height(step);
  for (std::size_t index = 0; index < step.panels.size(); ++index) {
    const auto found = std::find_if(std::begin(kPresentedPanels), std::end(kPresentedPanels),
                                    [&](const PresentedPanel& p) { return p.panel == step.panels[index]; });
    const char* name = panel_window_name(found->slot);
    const auto [position, size] = presented_placement(step.panels, index, caption_height);
    ImGui::SetWindowPos(name, position, ImGuiCond_Always);
    ImGui::SetWindowSize(name, size, ImGuiCond_Always);
  }
}

void end_presenter_frame(AppState& state) {
  PresenterState& presenter = state.presenter;
  if (presenter.active && presenter.tour) {
    draw_caption_bar(presenter);
    draw_highlight(state);
  }
  if (presenter.font_pushed) ImGui::PopFont();
  presenter.font_pushed = false;
}

}  // namespace dmascope::gui
