#include "app/gui/bar_chart.h"

#include <algorithm>

namespace dmascope::gui {

void draw_bar_chart(const char* id, std::span<const Bar> bars, float bar_height) {
  if (bars.empty()) return;
  ImGui::PushID(id);
  float label_width = 0, value_width = 0;
  double largest = 0;
  for (const Bar& bar : bars) {
    label_width = std::max(label_width, ImGui::CalcTextSize(bar.label.c_str()).x);
    value_width = std::max(value_width, ImGui::CalcTextSize(bar.value_text.c_str()).x);
    largest = std::max(largest, bar.value + bar.spread);
  }
  const ImGuiStyle& style = ImGui::GetStyle();
  const float width = ImGui::GetContentRegionAvail().x;
  const float bar_area = std::max(20.0f, width - label_width - value_width - 4 * style.ItemSpacing.x);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const float row = bar_height + style.ItemSpacing.y;
  for (std::size_t n = 0; n < bars.size(); ++n) {
    const Bar& bar = bars[n];
    const float y = origin.y + row * static_cast<float>(n);
    const float text_y = y + (bar_height - ImGui::GetTextLineHeight()) / 2;
    draw_list->AddText(ImVec2(origin.x, text_y), ImGui::GetColorU32(ImGuiCol_Text), bar.label.c_str());
    const float x0 = origin.x + label_width + style.ItemSpacing.x;
    const float length = largest > 0 ? static_cast<float>(bar.value / largest) * bar_area : 0;
    draw_list->AddRectFilled(ImVec2(x0, y), ImVec2(x0 + std::max(length, 1.0f), y + bar_height), bar.color);
    if (bar.spread > 0 && largest > 0) {
      const float whisker = static_cast<float>((bar.value + bar.spread) / largest) * bar_area;
      const float middle = y + bar_height / 2;
      draw_list->AddLine(ImVec2(x0 + length, middle), ImVec2(x0 + whisker, middle), IM_COL32(230, 230, 230, 200));
      draw_list->AddLine(ImVec2(x0 + whisker, y + 2), ImVec2(x0 + whisker, y + bar_height - 2),
                         IM_COL32(230, 230, 230, 200));
    }
    draw_list->AddText(ImVec2(x0 + bar_area + style.ItemSpacing.x, text_y), ImGui::GetColorU32(ImGuiCol_Text),
                       bar.value_text.c_str());
  }
  ImGui::Dummy(ImVec2(width, row * static_cast<float>(bars.size())));
  ImGui::PopID();
}

}  // namespace dmascope::gui
