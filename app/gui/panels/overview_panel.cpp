// The Overview panel: small multiples, one thumbnail per (layer, query head) of its mask (kept fraction, reduced in
// the worker), labelled by token density; click one to open it in the Heatmap.
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "app/gui/panels/answers_section.h"
#include "app/gui/render/number_format.h"
#include "app/gui/panels/panels.h"
#include "app/gui/panels/shown_text.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/pipeline/toy_answers.h"

namespace dmascope::gui {

namespace {

void upload_thumbnails(AppState& state, const PipelineResult& result) {
  OverviewPanelState& panel = state.overview;
  if (panel.generation == result.generation) return;
  panel.generation = result.generation;
  panel.thumbnails.clear();
  for (const auto& grid : result.thumbnails) {
    auto texture = std::make_unique<GridTexture>();
    const auto side = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(grid.size()))));
    texture->upload(grid, side, side);
    panel.thumbnails.push_back(std::move(texture));
  }
}

}  // namespace

void draw_overview_panel(AppState& state) {
  const auto result = begin_result_panel(state, PanelSlot::Overview, "Overview");
  if (!result) return;
  upload_thumbnails(state, *result);
  const bool answers = result->answers != nullptr;
  // In presenter mode the grid comes first and the answers shrink to their summary lines. Smaller thumbnails when
  // the answers share the panel.
  const bool summary_only = state.presenter.active;
  const bool answer_labels = answers;  // presenting too: a tour step quotes the per-head counts
  const float thumb = std::floor(ImGui::GetFontSize() * (answers ? 3.0f : 3.6f));
  const float label_width = ImGui::CalcTextSize("L00").x + 6;
  panel_png_button(state, "overview");
  ImGui::SameLine();
  const float line = ImGui::GetTextLineHeight();
  // Heads whose cut falls on a tie in some row get one more line, "N tied": there the kept set is the tie rule's choice.
  const bool tie_labels = std::any_of(result->cut_ties.begin(), result->cut_ties.end(),
                                      [](const CutTies& ties) { return ties.count() > 0; });
  // Wrapped: in a narrow panel the legend of the labels goes on two lines rather than off the edge.
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("layer × head · kept fraction%s%s · click to open", answer_labels ? " · answers' values kept" : "",
                      tie_labels ? " · rows cut on a tie" : "");
  ImGui::PopTextWrapPos();
  // A cell is as wide as its widest label ("100.0 %"), so that neighbouring labels never run together.
  const float cell_width = std::max(thumb, ImGui::CalcTextSize("100.0 %").x) + 12, cell_height = thumb + line * (1 + answer_labels + tie_labels) + 8;
  // With answers the grid takes its own height, leaving the answers table ten lines or half the panel.
  const float grid_height = line + 2 + result->layers() * cell_height + ImGui::GetStyle().ScrollbarSize;
  const float available = ImGui::GetContentRegionAvail().y;
  const float grid_share = std::min(grid_height, summary_only ? available - 2.5f * ImGui::GetTextLineHeightWithSpacing()
                                                              : std::max(available / 2, available - 10 * line));
  ImGui::BeginChild("thumbnails", ImVec2(0, answers ? grid_share : 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  GridStyle style;
  style.table = &colormap_table(state.view.colormap);
  const ImVec2 start = ImGui::GetCursorScreenPos();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), faint = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  for (std::int64_t h = 0; h < result->q_heads(); ++h) {
    const std::string label = fmt::format("h{}", h);
    draw_list->AddText(ImVec2(start.x + label_width + h * cell_width, start.y), faint, label.c_str());
  }
  const float top = start.y + ImGui::GetTextLineHeight() + 2;
  for (std::int64_t layer = 0; layer < result->layers(); ++layer) {
    const float y = top + layer * cell_height;
    const std::string row_label = fmt::format("L{}", layer);
    draw_list->AddText(ImVec2(start.x, y + thumb / 2 - ImGui::GetTextLineHeight() / 2), faint, row_label.c_str());
    for (std::int64_t h = 0; h < result->q_heads(); ++h) {
      const std::int64_t bias_head = result->bias_head_of(h);
      const ImVec2 at(std::floor(start.x + label_width + h * cell_width), std::floor(y));
      state.renderer->draw(draw_list, *state.overview.thumbnails[layer * result->bias_heads() + bias_head], at,
                           ImVec2(thumb, thumb), style);
      const bool selected = layer == state.view.layer && h == state.view.head;
      draw_list->AddRect(ImVec2(at.x - 2, at.y - 2), ImVec2(at.x + thumb + 2, at.y + thumb + 2),
                         selected ? IM_COL32(255, 200, 40, 255) : ImGui::GetColorU32(ImGuiCol_Border), 0, 0,
                         selected ? 2.0f : 1.0f);
      const std::string density = format_percent(result->tile_map(layer, bias_head).token_density());
      draw_list->AddText(ImVec2(at.x, at.y + thumb + 2), text, density.c_str());
      note_drawn_text(state.layout, draw_list, ImVec2(at.x, at.y + thumb + 2), density);
      if (answer_labels) {
        const double kept = static_cast<double>(result->answers->kept_count(layer, bias_head)) /
                            static_cast<double>(std::max<std::int64_t>(1, result->answers->total()));
        draw_list->AddText(ImVec2(at.x, at.y + thumb + 2 + line),
                           kept >= 0.9 ? IM_COL32(110, 220, 130, 255) : kept >= 0.5 ? IM_COL32(230, 200, 90, 255)
                                                                                  : IM_COL32(240, 110, 90, 255),
                           answers_thumbnail_label(*result, layer, bias_head).c_str());
        note_drawn_text(state.layout, draw_list, ImVec2(at.x, at.y + thumb + 2 + line),
                        answers_thumbnail_label(*result, layer, bias_head));
      }
      const std::int64_t tied_rows = result->ties_at_cut(layer, bias_head).count();
      if (tie_labels && tied_rows > 0) {
        const std::string tied = fmt::format("{} tied", tied_rows);
        const ImVec2 tied_at(at.x, at.y + thumb + 2 + line * (1 + answer_labels));
        draw_list->AddText(tied_at, IM_COL32(230, 200, 90, 255), tied.c_str());
        note_drawn_text(state.layout, draw_list, tied_at, tied);
      }
      ImGui::SetCursorScreenPos(at);
      ImGui::PushID(static_cast<int>(layer * 1000 + h));
      if (ImGui::InvisibleButton("thumb", ImVec2(thumb, thumb))) {
        state.view.layer = layer;
        state.view.head = h;
      }
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("layer %lld head %lld (bias head %lld)\ntoken density %s · tile density %s\n"
                          "rows cut on a tie: %lld (the w-th and (w+1)-th key have equal β; the lower index is kept)",
                          static_cast<long long>(layer), static_cast<long long>(h), static_cast<long long>(bias_head),
                          density.c_str(), format_percent(result->tile_map(layer, bias_head).tile_density()).c_str(),
                          static_cast<long long>(tied_rows));
      ImGui::PopID();
    }
  }
  note_region(state.layout, TourHighlight::DensityLabels, start,
              ImVec2(start.x + label_width + result->q_heads() * cell_width, top + result->layers() * cell_height));
  if (state.pipeline.result_is_stale()) draw_stale_badge(draw_list, start);
  ImGui::SetCursorScreenPos(ImVec2(start.x, top + result->layers() * cell_height));
  ImGui::Dummy(ImVec2(label_width + result->q_heads() * cell_width, 1));
  ImGui::EndChild();
  if (answers) draw_answers_section(state, *result, /*with_table=*/!summary_only);
  ImGui::End();
}

}  // namespace dmascope::gui
