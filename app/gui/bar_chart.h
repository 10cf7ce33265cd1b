// The one plotting helper (Debian has no ImPlot): horizontal bars with a label, a value text and an optional spread
// whisker, drawn with ImDrawList as Tracy does.
#pragma once

#include <imgui.h>

#include <span>
#include <string>

namespace dmascope::gui {

struct Bar {
  std::string label;
  double value = 0;   // bar length, in the chart's unit
  double spread = 0;  // whisker: value … value + spread (0: none)
  std::string value_text;
  ImU32 color = IM_COL32(90, 160, 230, 255);
};

// Bars share one scale (the largest value + spread). Takes the full available width and height per bar.
void draw_bar_chart(const char* id, std::span<const Bar> bars, float bar_height);

}  // namespace dmascope::gui
