// The status bar along the bottom: backend, model, L, w, the last compute time, progress with a cancel button, and
// errors in red, so that a failure is visible while the app keeps running.
#include <imgui.h>

#include <fmt/format.h>

#include "app/gui/layer_timing.h"
#include "app/gui/number_format.h"
#include "app/gui/panels.h"
#include "core/parallel.h"

namespace dmascope::gui {

void draw_status_bar(AppState& state) {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const float height = status_bar_height();
  ImGui::SetNextWindowPos(ImVec2(0, display.y - height));
  ImGui::SetNextWindowSize(ImVec2(display.x, height));
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                 ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus;
  ImGui::Begin("##status", nullptr, flags);
  const auto result = state.pipeline.result();
  const PipelineStatus status = state.pipeline.status();
  const bool cuda = state.pipeline.settings().backend == Backend::Cuda;
  ImGui::Text("%s", cuda ? "CUDA backend (timing) · CPU forward fp32"
                         : fmt::format("CPU backend · fp32 · {} threads", worker_count()).c_str());
  if (result) {
    ImGui::SameLine();
    ImGui::TextDisabled("|");
    ImGui::SameLine();
    ImGui::Text("%s · L %lld · w %lld · %s · tile %lld", result->model->name().c_str(),
                static_cast<long long>(result->length()), static_cast<long long>(result->forward.window),
                std::string(mask_variant_name(result->settings.mask_variant)).c_str(),
                static_cast<long long>(result->settings.tile_size));
    ImGui::SameLine();
    ImGui::TextDisabled("|");
    ImGui::SameLine();
    ImGui::Text("computed in %s", state.deterministic ? "— (hidden in screenshots)" : format_ms(result->compute_ms).c_str());
    if (state.pipeline.result_is_stale()) {
      ImGui::SameLine();
      ImGui::TextColored(ImVec4(1.0f, 0.65f, 0.2f, 1.0f), "stale");
    }
  }
  if (status.running) {
    ImGui::SameLine();
    const float fraction = status.steps_total > 0 ? static_cast<float>(status.steps_done) / status.steps_total : 0.0f;
    const std::string label = status.steps_total > 0 && status.phase == ComputePhase::Forward
                                  ? fmt::format("{} {}/{}", compute_phase_label(status.phase), status.steps_done,
                                                status.steps_total)
                                  : std::string(compute_phase_label(status.phase));
    ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * 12, 0), label.c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("cancel (Esc)")) state.pipeline.cancel();
  } else if (status.cancelled) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1.0f, 0.65f, 0.2f, 1.0f), "cancelled");
    ImGui::SameLine();
    if (ImGui::SmallButton("recompute (F5)")) state.pipeline.retry();
  }
  const std::string& error = !status.error.empty() ? status.error : state.ui_error;
  if (!error.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1.0f, 0.4f, 0.3f, 1.0f), "error: %s", error.c_str());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", error.c_str());
  } else if (!state.ui_message.empty()) {
    ImGui::SameLine();
    ImGui::TextDisabled("%s", state.ui_message.c_str());
  }
  ImGui::End();
}

}  // namespace dmascope::gui
