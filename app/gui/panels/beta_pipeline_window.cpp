// The β pipeline window: where one key's β comes from, stage by stage with the result's real values (v → dt_proj →
// softplus → ×A → exp → β), and what β does to the key — its rank among the keys of its row and the rows that keep
// it. Layer and head are the view's; the key is typed here or picked in the heatmap (a click on the β strip, a
// double click on the matrix).
#include <fmt/format.h>
#include <imgui.h>

#include <algorithm>

#include "app/gui/panels/beta_pipeline.h"
#include "app/gui/panels/panels.h"
#include "app/gui/panels/shown_text.h"

namespace dmascope::gui {

namespace {

void stage_row(const char* stage, const std::string& value, const char* meaning) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextUnformatted(stage);
  ImGui::TableSetColumnIndex(1);
  ImGui::TextUnformatted(value.c_str());
  ImGui::TableSetColumnIndex(2);
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("%s", meaning);
  ImGui::PopTextWrapPos();
}

void draw_stages(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head, std::int64_t key) {
  const BetaStages s = beta_stages(result, layer, bias_head, key);
  if (!ImGui::BeginTable("beta stages", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV)) return;
  ImGui::TableSetupColumn("stage", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableSetupColumn("what it is", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableHeadersRow();
  stage_row("v", fmt::format("key {} {}", key, result.token_label(key)), "the key's value vector, from its token");
  if (s.has_stages) {
    stage_row("dt_proj(v)", fmt::format("{:.4g}", s.dt), "a learned projection of v to one number for this bias head");
    stage_row("softplus", fmt::format("{:.4g}", s.softplus_dt), "log(1 + e^dt): made positive");
    stage_row("× A", fmt::format("{:.4g} × {:.4g} = {:.4g}", s.softplus_dt, s.A, s.scaled),
              "the head's learned A scales it");
    if (s.exp_formula) stage_row("exp", fmt::format("{:.4g}", s.beta), "e^x: the bias is positive");
  } else {
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(2);
    ImGui::TextDisabled("this result has no captured dt or float A: only β is known");
  }
  stage_row("β", fmt::format("{:.4g}", s.beta), "every row keeps its w keys of highest β");
  ImGui::EndTable();
}

}  // namespace

void draw_beta_pipeline_window(AppState& state) {
  auto& window = state.beta_window;
  window.drawn = false;
  if (!window.open) return;
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(display.x * 0.5f, display.y * 0.5f), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  // A fixed height: the window may open before the result exists, when an auto-fit would make it one line tall.
  ImGui::SetNextWindowSize(ImVec2(std::min(display.x * 0.6f, 720.0f),
                                  std::min(display.y * 0.6f, ImGui::GetFrameHeightWithSpacing() * 13)),
                           ImGuiCond_Appearing);
  if (ImGui::Begin("\xce\xb2 pipeline", &window.open)) {
    window.drawn = true;
    const auto result = state.pipeline.result();
    if (!result) {
      ImGui::TextDisabled("no result yet");
    } else {
      const std::int64_t L = result->length();
      const std::int64_t bias_head = result->bias_head_of(state.view.head);
      ImGui::Text("layer %lld · head %lld (bias head %lld) · L %lld · w %lld", static_cast<long long>(state.view.layer),
                  static_cast<long long>(state.view.head), static_cast<long long>(bias_head),
                  static_cast<long long>(L), static_cast<long long>(result->forward.window));
      ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
      long long key = window.key;
      if (ImGui::InputScalar("key", ImGuiDataType_S64, &key, nullptr, nullptr, "%lld")) window.key = key;
      ImGui::SameLine();
      ImGui::TextDisabled("(or click the \xce\xb2 strip, right-click the heatmap)");
      if (window.key < 0 || window.key >= L) {
        ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "key %lld is not a position of this sequence (0..%lld)",
                           static_cast<long long>(window.key), static_cast<long long>(L - 1));
      } else {
        draw_stages(*result, state.view.layer, bias_head, window.key);
        ImGui::PushTextWrapPos(0.0f);
        const std::string rank = beta_rank_text(*result, state.view.layer, bias_head, window.key);
        ImGui::TextUnformatted(rank.c_str());
        note_item_text(state.layout, rank);
        ImGui::PopTextWrapPos();
      }
    }
  }
  ImGui::End();
}

}  // namespace dmascope::gui
