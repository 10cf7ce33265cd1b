// Live accuracy on a trained task (engine/pipeline/toy_answers.h): the Overview panel's answers table, and the heatmap's
// markers on each answer's (row, key to copy) cell — a green ring where the head's mask kept that key, a red cross where
// it did not (two shapes, so that the markers read without telling red from green), and their legend.
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "app/gui/panels/answers_section.h"
#include "app/gui/panels/shown_text.h"
#include "app/gui/render/number_format.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/pipeline/toy_answers.h"

namespace dmascope::gui {

namespace {

constexpr ImU32 kKeptColor = IM_COL32(70, 220, 110, 255);
constexpr ImU32 kDroppedColor = IM_COL32(250, 70, 60, 255);
constexpr ImU32 kSelectedColor = IM_COL32(255, 200, 40, 255);
constexpr double kTokensShownAroundAnswer = 48;  // the heatmap's window side after a click on an answer

std::string token_name(std::int32_t id) {
  try {
    return toy_token_name(id);
  } catch (const std::exception&) {
    return std::to_string(id);
  }
}

// Centres the heatmap on the answer's cell, zoomed in far enough for token labels.
void open_answer(AppState& state, const PipelineResult& result, std::size_t answer) {
  const ToyExample& example = result.answers->example;
  const auto L = static_cast<double>(result.length());
  state.view.zoom_pan.zoom = std::max(1.0, L / kTokensShownAroundAnswer);
  state.view.zoom_pan.center_row = static_cast<double>(example.answer_positions[answer]) + 0.5;
  state.view.zoom_pan.center_col = static_cast<double>(example.sources[answer]) + 0.5;
  state.selected_answer = static_cast<std::int64_t>(answer);
}

}  // namespace

std::string answers_thumbnail_label(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head) {
  if (!result.answers) return {};
  return fmt::format("{}/{}", result.answers->kept_count(layer, bias_head), result.answers->total());
}

void draw_answers_section(AppState& state, const PipelineResult& result, bool with_table) {
  const ToyAnswers& answers = *result.answers;
  const ToyExample& example = answers.example;
  ImGui::Separator();
  if (answers.scored) {
    const auto correct = static_cast<double>(answers.score.correct);
    const double fraction = correct / static_cast<double>(answers.total());
    const std::string score = fmt::format("{}: {} of {} answers correct ({})", toy_task_name(example.task),
                                          answers.score.correct, answers.total(), format_percent(fraction));
    ImGui::TextColored(ImVec4(fraction >= 0.9 ? 0.4f : 1.0f, fraction >= 0.5 ? 0.9f : 0.5f, 0.45f, 1.0f), "%s",
                       score.c_str());
    note_item_text(state.layout, score);
  } else {
    ImGui::Text("%s: %lld answers (not scored: %s)", std::string(toy_task_name(example.task)).c_str(),
                static_cast<long long>(answers.total()), answers.unscored_reason.c_str());
  }
  std::string kept = "values kept:";
  for (std::int64_t layer = 0; layer < result.layers(); ++layer)
    kept += fmt::format(" L{} {}/{}", layer, answers.kept_by_layer(layer), answers.total());
  ImGui::TextDisabled("%s", kept.c_str());
  note_item_text(state.layout, kept);
  if (!with_table) return;
  ImGui::TextDisabled("L0, L1…: + where a bias head kept the key · click a row to open it in the heatmap");

  const int columns = 4 + static_cast<int>(result.layers());
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                                ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("answers", columns, flags, ImVec2(0, ImGui::GetContentRegionAvail().y))) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("row");
  ImGui::TableSetupColumn("key");
  ImGui::TableSetupColumn("expected");
  ImGui::TableSetupColumn("answer");
  for (std::int64_t layer = 0; layer < result.layers(); ++layer)
    ImGui::TableSetupColumn(fmt::format("L{}", layer).c_str());
  ImGui::TableHeadersRow();
  for (std::size_t a = 0; a < static_cast<std::size_t>(answers.total()); ++a) {
    const std::int64_t row = example.answer_positions[a], source = example.sources[a];
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::PushID(static_cast<int>(a));
    const std::string row_label = fmt::format("{}", row);
    if (ImGui::Selectable(row_label.c_str(), state.selected_answer == static_cast<std::int64_t>(a),
                          ImGuiSelectableFlags_SpanAllColumns))
      open_answer(state, result, a);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("row %lld must produce %s, the token at position %lld%s", static_cast<long long>(row),
                        token_name(example.answers[a]).c_str(), static_cast<long long>(source),
                        answers.scored ? fmt::format("\nthe model answers {} (top-1 minus top-2 logit: {:.2f})",
                                                     token_name(answers.score.predicted[a]), answers.score.margin[a])
                                             .c_str()
                                       : "");
    ImGui::PopID();
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(token_name(example.ids[static_cast<std::size_t>(row)]).c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(token_name(example.answers[a]).c_str());
    ImGui::TableNextColumn();
    if (answers.scored)
      ImGui::TextColored(answers.correct(a) ? ImVec4(0.4f, 0.9f, 0.45f, 1) : ImVec4(1, 0.35f, 0.3f, 1), "%s",
                         token_name(answers.score.predicted[a]).c_str());
    else
      ImGui::TextDisabled("–");
    for (std::int64_t layer = 0; layer < result.layers(); ++layer) {
      ImGui::TableNextColumn();
      std::string heads;
      for (std::int64_t head = 0; head < result.bias_heads(); ++head)
        heads += answers.kept[static_cast<std::size_t>(layer)][static_cast<std::size_t>(head)][a] ? "+" : "·";
      ImGui::TextUnformatted(heads.c_str());
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("layer %lld, one mark per bias head: + kept key %lld on row %lld, · dropped it",
                          static_cast<long long>(layer), static_cast<long long>(source), static_cast<long long>(row));
    }
  }
  ImGui::EndTable();
}

namespace {

void draw_cross(ImDrawList* draw_list, ImVec2 at, float radius, ImU32 color) {
  const float r = radius * 0.8f;
  draw_list->AddLine(ImVec2(at.x - r, at.y - r), ImVec2(at.x + r, at.y + r), color, 2.5f);
  draw_list->AddLine(ImVec2(at.x - r, at.y + r), ImVec2(at.x + r, at.y - r), color, 2.5f);
}

void draw_marker(ImDrawList* draw_list, ImVec2 at, float radius, bool kept) {
  if (kept) draw_list->AddCircle(at, radius, kKeptColor, 16, 2.0f);
  else draw_cross(draw_list, at, radius, kDroppedColor);
}

}  // namespace

float draw_answer_legend(const PipelineResult& result, ImDrawList* draw_list, ImVec2 at) {
  if (!result.answers) return 0;
  const float line = ImGui::GetTextLineHeight(), radius = line * 0.35f;
  const ImU32 faint = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  float x = at.x;
  const char* label = "answer's value:";
  draw_list->AddText(ImVec2(x, at.y), faint, label);
  x += ImGui::CalcTextSize(label).x + radius + 8;
  for (const bool kept : {true, false}) {
    draw_marker(draw_list, ImVec2(x, at.y + line / 2), radius, kept);
    const char* what = kept ? "kept by this head" : "dropped";
    draw_list->AddText(ImVec2(x + radius + 4, at.y), faint, what);
    x += radius + 4 + ImGui::CalcTextSize(what).x + radius + 14;
  }
  return x - at.x;
}

void draw_answer_markers(const AppState& state, const PipelineResult& result, ImDrawList* draw_list, ImVec2 origin,
                         float side, const MatrixWindow& window) {
  if (!result.answers) return;
  const ToyAnswers& answers = *result.answers;
  const std::int64_t layer = state.view.layer, bias_head = result.bias_head_of(state.view.head);
  if (layer >= static_cast<std::int64_t>(answers.kept.size())) return;
  const auto& kept = answers.kept[static_cast<std::size_t>(layer)][static_cast<std::size_t>(bias_head)];
  const double cell = side / window.cols();
  const float radius = static_cast<float>(std::clamp(cell * 0.45, 3.0, 12.0));
  draw_list->PushClipRect(origin, ImVec2(origin.x + side, origin.y + side), true);
  for (std::size_t a = 0; a < static_cast<std::size_t>(answers.total()); ++a) {
    const double row = static_cast<double>(answers.example.answer_positions[a]) + 0.5;
    const double col = static_cast<double>(answers.example.sources[a]) + 0.5;
    if (row < window.row_begin || row > window.row_end || col < window.col_begin || col > window.col_end) continue;
    const ImVec2 at(origin.x + static_cast<float>((col - window.col_begin) * cell),
                    origin.y + static_cast<float>((row - window.row_begin) * cell));
    draw_marker(draw_list, at, radius, kept[a]);
    if (state.selected_answer == static_cast<std::int64_t>(a))
      draw_list->AddCircle(at, radius + 3, kSelectedColor, 16, 2.0f);
  }
  draw_list->PopClipRect();
}

}  // namespace dmascope::gui
