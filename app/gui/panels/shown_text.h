// What the panels tell presenter mode and the screenshot tests about their text and regions (FrameLayout::texts,
// ::regions): a tour caption quotes numbers from the screen, and a test must be able to tell that those numbers were
// drawn whole, not clipped by a narrow column or a short window.
#pragma once

#include <imgui.h>

#include <string>

#include "app/gui/app_state.h"

namespace dmascope::gui {

// The last ImGui item (Text, TextColored, ...) showed `text`.
void note_item_text(FrameLayout& layout, std::string text);
// `text` was drawn with draw_list->AddText at `at` in the current font.
void note_drawn_text(FrameLayout& layout, const ImDrawList* draw_list, ImVec2 at, std::string text);
// A region a tour step may highlight was drawn here (screen pixels); a second call from the same panel widens it.
void note_region(FrameLayout& layout, TourHighlight region, ImVec2 min, ImVec2 max);

}  // namespace dmascope::gui
