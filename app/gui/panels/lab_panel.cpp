// The Mask lab window: which strategies, the budget w, the dense reference and DAM's calibration; Run starts the
// lab on the pipeline's current result on a worker (LabRunner) with progress and cancel; the tabs show the newest
// run through the views of lab_views.h.
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "app/gui/panels/lab_views.h"
#include "app/gui/panels/panels.h"

namespace dmascope::gui {

namespace {

const char* const kDamSourceNames[] = {"trained task", "text file", "random ids"};

LabSettings settings_of(const LabEdit& edit, const PipelineResult& source) {
  LabSettings settings;
  settings.strategies.clear();
  for (std::size_t i = 0; i < kAllStrategies.size(); ++i)
    if (edit.strategies[i]) settings.strategies.push_back(kAllStrategies[i]);
  settings.window = edit.window;  // 0: the forward's window
  settings.dense_with_bias = edit.dense_with_bias;
  settings.tiles = {source.settings.tile_size, source.settings.tile_size};
  settings.backend = source.settings.backend;  // the lab computes where the forward ran (a GPU adds gpu_ms)
  settings.dam_calibration = default_dam_calibration(source.model->model);
  // A trained task needs the toy vocabulary: elsewhere the model's default (random ids) stands.
  const auto source_kind = static_cast<DamSource>(edit.dam_source);
  if (source_kind != DamSource::Task) settings.dam_calibration.source = source_kind;
  if (source_kind == DamSource::Text) settings.dam_calibration.text_file = edit.dam_text_file.data();
  settings.dam_calibration.sequences = edit.dam_sequences;
  settings.dam_calibration.dam.capture_length = edit.dam_capture_length;
  settings.dam_calibration.dense_with_bias = edit.dense_with_bias;
  return settings;
}

void start_run(AppState& state, const std::shared_ptr<const PipelineResult>& source) {
  const LabSettings settings = settings_of(state.lab.edit, *source);
  if (settings.strategies.empty()) {
    state.ui_error = "mask lab: pick at least one strategy";
    return;
  }
  state.lab.runner.start(source, settings,
                         state.lab.edit.budget_curves ? default_curve_windows(source->length())
                                                      : std::vector<std::int64_t>{});
}

void draw_settings(AppState& state, const std::shared_ptr<const PipelineResult>& source) {
  LabEdit& edit = state.lab.edit;
  ImGui::TextUnformatted("strategies");
  for (std::size_t i = 0; i < kAllStrategies.size(); ++i) {
    if (i > 0) ImGui::SameLine();
    ImGui::Checkbox(std::string(strategy_name(kAllStrategies[i])).c_str(), &edit.strategies[i]);
  }
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  ImGui::InputInt("budget w (0: the model's)", &edit.window, 0);
  edit.window = std::clamp(edit.window, 0, 1 << 20);
  ImGui::SameLine();
  ImGui::Checkbox("dense with β", &edit.dense_with_bias);
  ImGui::SameLine();
  ImGui::Checkbox("budget curves", &edit.budget_curves);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  ImGui::Combo("DAM source", &edit.dam_source, kDamSourceNames, IM_ARRAYSIZE(kDamSourceNames));
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  ImGui::InputInt("N", &edit.dam_sequences, 0);
  edit.dam_sequences = std::clamp(edit.dam_sequences, 1, 4096);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  ImGui::InputInt("capture length", &edit.dam_capture_length, 0);
  edit.dam_capture_length = std::clamp(edit.dam_capture_length, 8, 4096);
  if (edit.dam_source == static_cast<int>(DamSource::Text)) {
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 20);
    ImGui::InputText("DAM text file", edit.dam_text_file.data(), edit.dam_text_file.size());
  }

  const LabRunnerStatus status = state.lab.runner.status();
  if (status.running) {
    const float fraction = status.progress.total > 0
                               ? static_cast<float>(status.progress.done) / static_cast<float>(status.progress.total)
                               : 0.0f;
    ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * 16, 0),
                       fmt::format("{} {}/{}", status.progress.stage, status.progress.done, status.progress.total)
                           .c_str());
    ImGui::SameLine();
    if (ImGui::Button("Cancel##lab")) state.lab.runner.cancel();
  } else {
    ImGui::BeginDisabled(!source);
    if (ImGui::Button("Run mask lab")) start_run(state, source);
    ImGui::EndDisabled();
    if (!source) ImGui::SameLine(), ImGui::TextDisabled("no result yet");
    if (status.cancelled) ImGui::SameLine(), ImGui::TextDisabled("cancelled");
  }
  if (!status.error.empty()) ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "mask lab: %s", status.error.c_str());
}

// A tab that --lab-tab names is opened once.
bool begin_tab(LabPanelState& lab, const char* name) {
  ImGuiTabItemFlags flags = 0;
  if (!lab.select_tab.empty() && lab.select_tab == name) {
    flags |= ImGuiTabItemFlags_SetSelected;
    lab.select_tab.clear();
  }
  const bool open = ImGui::BeginTabItem(name, nullptr, flags);
  if (open) lab.drawn_tab = name;
  return open;
}

}  // namespace

void draw_lab_window(AppState& state) {
  LabPanelState& lab = state.lab;
  lab.runner.poll();
  const auto source = state.pipeline.result();
  if (lab.run_requested && source && !state.pipeline.result_is_stale()) {
    lab.run_requested = false;
    start_run(state, source);
  }
  if (!lab.open) return;
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(std::floor(display.x * 0.23f), 0), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowSize(ImVec2(std::floor(display.x * 0.77f), display.y - status_bar_height()),
                           ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowBgAlpha(1.0f);  // it lies over the Heatmap and Tile map panels
  if (!ImGui::Begin("Mask lab", &lab.open)) {
    ImGui::End();
    return;
  }
  lab.drawn_tab.clear();
  lab.drawn_picture = {};
  draw_settings(state, source);
  ImGui::Separator();
  const auto& runs = lab.runner.runs();
  if (runs.empty()) {
    ImGui::TextDisabled("no lab run yet: Run mask lab compares the strategies on the current sequence");
    ImGui::End();
    return;
  }
  const LabRun& run = *runs.back();
  ImGui::TextWrapped("%s: %lld tokens, w = %lld, dense %s β%s%s", run.label.c_str(),
              static_cast<long long>(run.result.length), static_cast<long long>(run.result.window),
              run.settings.dense_with_bias ? "with" : "without", run.result.dam_calibration.empty() ? "" : ", DAM on ",
              run.result.dam_calibration.c_str());
  if (ImGui::BeginTabBar("lab views")) {
    if (begin_tab(lab, "Table")) draw_lab_table(state, run), ImGui::EndTabItem();
    if (begin_tab(lab, "Overview")) draw_lab_overview(state, run), ImGui::EndTabItem();
    if (begin_tab(lab, "Dropped mass")) draw_lab_dropped_mass(state, runs.back()), ImGui::EndTabItem();
    if (begin_tab(lab, "A/B")) draw_lab_ab_view(state), ImGui::EndTabItem();
    if (begin_tab(lab, "Budget curves")) draw_lab_budget_curves(state, run), ImGui::EndTabItem();
    if (begin_tab(lab, "DAM stages")) draw_lab_dam_stages(state, run), ImGui::EndTabItem();
    ImGui::EndTabBar();
  }
  ImGui::End();
}

}  // namespace dmascope::gui
