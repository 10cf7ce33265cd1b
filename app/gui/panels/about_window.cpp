// The About / Tour window: what dmascope is, the bundled models (shape and held-out accuracy, read from their
// folders), the recall table of bench/toy-recall (from assets/models/recall-table.json) and the button that starts
// the tour. The data is read once, when the window first opens.
#include <fmt/format.h>
#include <imgui.h>

#include <algorithm>

#include "app/gui/engine_vocabulary.h"
#include "core/base/printable.h"
#include "engine/session/bundled_assets.h"
#include "app/gui/panels/panels.h"
#include "app/gui/presenter/presenter.h"

namespace dmascope::gui {

namespace {

constexpr const char* kAboutText =
    "dmascope shows Dynamic Mask Attention (DMA, arXiv 2508.02124) at work in Doge models. Each attention head "
    "computes a bias \xce\xb2 over the keys from the values; every query row keeps only its w keys of highest "
    "\xce\xb2 and drops the rest. dmascope draws that mask per head, the \xce\xb2 that ranks the keys, the tiles a "
    "kernel can skip because none of their keys is kept, and the time DMA takes next to dense attention.";

void heading(const char* text) {  // ImGui 1.86 has no SeparatorText
  ImGui::Spacing();
  ImGui::Separator();
  ImGui::TextColored(ImVec4(1.0f, 0.82f, 0.35f, 1.0f), "%s", text);
}

// A table cell's text, wrapped at the column's width instead of cut at its edge.
void wrapped_cell(const std::string& text) {
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextUnformatted(text.c_str());
  ImGui::PopTextWrapPos();
}

void load_about_data(AboutWindowState& about) {
  about.loaded = true;
  about.models = find_bundled_models();
  try {
    about.recall_table = load_recall_table(bundled_recall_table());
  } catch (const std::exception& error) {
    about.recall_table_error = printable_message(error.what());
  }
}

// Opens a bundled model on its own sample sequence when it has one (the trained toy models do).
void open_bundled_model(AppState& state, const BundledModel& model) {
  state.edit.model_dir = model.dir.string();
  if (model.sample_text) {  // read (capped, regular files only) with the folder, by find_bundled_models
    state.edit.source = SourceKind::Text;
    state.edit.text = *model.sample_text;
    state.edit.window = 0;
  }
  state.edit_complete = true;
}

void draw_models(AppState& state) {
  const AboutWindowState& about = state.about;
  if (!ImGui::BeginTable("bundled models", 4, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV)) return;
  // Name and button keep their width; shape and accuracy share the rest and wrap.
  ImGui::TableSetupColumn("model", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableSetupColumn("shape", ImGuiTableColumnFlags_WidthStretch, 1.0f);
  ImGui::TableSetupColumn("held-out accuracy (its eval_examples.json)", ImGuiTableColumnFlags_WidthStretch, 1.0f);
  ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableHeadersRow();
  for (const BundledModel& model : about.models) {
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    ImGui::TextUnformatted(model.name.c_str());
    ImGui::TableSetColumnIndex(1);
    wrapped_cell(model.error.empty() ? model.shape : printable(model.error));
    ImGui::TableSetColumnIndex(2);
    std::string accuracy = model.run.empty() ? "untrained (random weights)" : "run " + model.run + ":";
    for (const auto& [task, fraction] : model.heldout_accuracy)
      accuracy += fmt::format(" {} {:.1f} %", task, 100.0 * fraction);
    wrapped_cell(accuracy);
    ImGui::TableSetColumnIndex(3);
    ImGui::PushID(model.name.c_str());
    if (model.error.empty() && ImGui::SmallButton("open")) open_bundled_model(state, model);
    ImGui::PopID();
  }
  ImGui::EndTable();
}

void draw_recall_table(AboutWindowState& about) {
  about.recall_rows_drawn = 0;
  if (!about.recall_table) {
    ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "%s", about.recall_table_error.c_str());
    return;
  }
  const RecallTable& table = *about.recall_table;
  ImGui::TextUnformatted(table.title.c_str());
  const int columns = static_cast<int>(table.columns.size());
  // Proportional widths and wrapped cells and headers: no file name or header is cut at a column edge.
  if (ImGui::BeginTable("recall table", columns,
                        ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders | ImGuiTableFlags_SizingStretchProp)) {
    for (const std::string& column : table.columns) ImGui::TableSetupColumn(column.c_str());
    ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
    for (int c = 0; c < columns; ++c) {
      ImGui::TableSetColumnIndex(c);
      wrapped_cell(table.columns[static_cast<std::size_t>(c)]);
    }
    for (const auto& row : table.rows) {
      ImGui::TableNextRow();
      for (int c = 0; c < columns; ++c) {
        ImGui::TableSetColumnIndex(c);
        wrapped_cell(row[static_cast<std::size_t>(c)]);
      }
      ++about.recall_rows_drawn;
    }
    ImGui::EndTable();
  }
  ImGui::PushTextWrapPos(ImGui::GetContentRegionAvail().x + ImGui::GetCursorPosX());
  ImGui::TextDisabled("%s (from %s)", table.note.c_str(), table.source.c_str());
  ImGui::PopTextWrapPos();
}

}  // namespace

void draw_about_window(AppState& state) {
  AboutWindowState& about = state.about;
  about.drawn = false;
  if (!about.open) return;
  if (!about.loaded) load_about_data(about);
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(display.x * 0.5f, display.y * 0.5f), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  ImGui::SetNextWindowSize(ImVec2(std::min(display.x * 0.9f, 1250.0f), 0.0f), ImGuiCond_Appearing);
  if (ImGui::Begin("About dmascope / Tour", &about.open)) {
    about.drawn = true;
    ImGui::PushTextWrapPos(0.0f);
    ImGui::TextUnformatted(kAboutText);
    ImGui::PopTextWrapPos();
    ImGui::Spacing();
    if (ImGui::Button("Start the tour (F11)")) {
      about.open = false;
      start_bundled_tour(state);
    }
    ImGui::SameLine();
    ImGui::TextDisabled("a guided walk through the trained toy model: \xe2\x86\x90 \xe2\x86\x92 step, Esc leaves");
    heading("Bundled models");
    draw_models(state);
    heading("What the toy models learned (bench/toy-recall)");
    draw_recall_table(about);
  }
  ImGui::End();
}

}  // namespace dmascope::gui
