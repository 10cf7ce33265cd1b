// The status bar along the bottom: backend, model, L, w, the last compute time, progress with a cancel button, and
// errors in red, so that a failure is visible while the app keeps running.
#include <imgui.h>

#include <fmt/format.h>

#include "app/gui/engine_vocabulary.h"
#include "engine/timing/layer_timing.h"
#include "app/gui/render/number_format.h"
#include "app/gui/panels/panels.h"
#include "core/base/parallel.h"
#include "core/base/printable.h"

namespace dmascope::gui {

namespace {

constexpr double kGpuStatusPeriodSeconds = 1.0;  // a driver query: at most once a second, not every frame

std::string gib(std::size_t bytes) { return fmt::format("{:.1f}", static_cast<double>(bytes) / (1 << 30)); }

// Backend, and on CUDA the GPU's name and memory in use / total (refreshed at most once a second).
std::string backend_label(AppState& state, bool cuda) {
  if (!cuda) return fmt::format("CPU backend · fp32 · {} threads", worker_count());
  GpuStatusCache& cache = state.gpu_status;
  const double now = ImGui::GetTime();
  if (now - cache.queried_at_s >= kGpuStatusPeriodSeconds || now < cache.queried_at_s) {
    cache.status = query_gpu_status();
    cache.queried_at_s = now;
  }
  const GpuStatus& gpu = cache.status;
  if (!gpu.available) return "CUDA backend · no GPU found";
  return fmt::format("CUDA backend ({}) · {} · {} / {} GiB in use", precision_name(state.pipeline.settings().timing_dtype),
                     gpu.name, gib(gpu.memory_used), gib(gpu.memory_total));
}

// Which device computed the mask shown: the forward pass that produced the result (pipeline_compute.cpp).
std::string mask_device_label(const PipelineResult& result) { return "mask: " + result.mask_device; }

}  // namespace

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
  ImGui::TextUnformatted(backend_label(state, cuda).c_str());
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
    ImGui::Text("%s · computed in %s", mask_device_label(*result).c_str(),
                state.deterministic ? "— (hidden in screenshots)" : format_ms(result->compute_ms).c_str());
    if (state.pipeline.result_is_stale()) {
      ImGui::SameLine();
      ImGui::TextColored(ImVec4(1.0f, 0.65f, 0.2f, 1.0f), "stale");
    }
  }
  if (status.running) {
    ImGui::SameLine();
    const float fraction = status.steps_total > 0 ? static_cast<float>(status.steps_done) / status.steps_total : 0.0f;
    const std::string label = status.steps_total > 0 && (status.phase == ComputePhase::Forward ||
                                                         status.phase == ComputePhase::Timing)
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
  // Escaped here, where every error reaches the screen: one line in the bar, all lines in the tooltip.
  const std::string& error = !status.error.empty() ? status.error : state.ui_error;
  if (!error.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1.0f, 0.4f, 0.3f, 1.0f), "error: %s", printable(error).c_str());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", printable_message(error).c_str());
  } else if (!state.ui_message.empty()) {
    ImGui::SameLine();
    ImGui::TextDisabled("%s", state.ui_message.c_str());
  }
  ImGui::End();
}

}  // namespace dmascope::gui
