#include "app/gui/panels/shown_text.h"

#include <imgui_internal.h>  // GetCurrentWindow: which panel a region belongs to

#include <algorithm>

namespace dmascope::gui {

namespace {

// Half a pixel of slack: glyph boxes are laid out at fractional positions.
constexpr float kEdgeSlack = 0.5f;

void note(FrameLayout& layout, std::string text, ImVec2 min, ImVec2 max, ImVec2 clip_min, ImVec2 clip_max) {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  clip_min = ImVec2(std::max(clip_min.x, 0.0f), std::max(clip_min.y, 0.0f));
  clip_max = ImVec2(std::min(clip_max.x, display.x), std::min(clip_max.y, display.y));
  const bool visible = min.x >= clip_min.x - kEdgeSlack && min.y >= clip_min.y - kEdgeSlack &&
                       max.x <= clip_max.x + kEdgeSlack && max.y <= clip_max.y + kEdgeSlack;
  layout.texts.push_back({std::move(text), ImVec4(min.x, min.y, max.x, max.y), visible});
}

}  // namespace

void note_item_text(FrameLayout& layout, std::string text) {
  const ImDrawList* draw_list = ImGui::GetWindowDrawList();
  note(layout, std::move(text), ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), draw_list->GetClipRectMin(),
       draw_list->GetClipRectMax());
}

void note_drawn_text(FrameLayout& layout, const ImDrawList* draw_list, ImVec2 at, std::string text) {
  const ImVec2 size = ImGui::CalcTextSize(text.c_str());
  note(layout, std::move(text), at, ImVec2(at.x + size.x, at.y + size.y), draw_list->GetClipRectMin(),
       draw_list->GetClipRectMax());
}

void note_region(FrameLayout& layout, TourHighlight region, ImVec2 min, ImVec2 max) {
  std::vector<ImVec4>& rects = layout.regions[region];
  // A second call from the same window (the same panel) widens its rect; another panel's gets a rect of its own.
  const ImGuiWindow* window = ImGui::GetCurrentWindow();
  for (ImVec4& rect : rects)
    if (rect.x >= window->Pos.x && rect.x < window->Pos.x + window->Size.x && rect.y >= window->Pos.y &&
        rect.y < window->Pos.y + window->Size.y) {
      rect = ImVec4(std::min(rect.x, min.x), std::min(rect.y, min.y), std::max(rect.z, max.x), std::max(rect.w, max.y));
      return;
    }
  rects.emplace_back(min.x, min.y, max.x, max.y);
}

}  // namespace dmascope::gui
