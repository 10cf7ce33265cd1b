// The Timing panel: for the current layer, DMA (mask build + masked tiled kernel) against dense attention (the same
// kernel without a mask), with the measured and the ideal speedup implied by the density. CPU timings say so.
#include <imgui.h>

#include <fmt/format.h>

#include "app/gui/bar_chart.h"
#include "app/gui/layer_timing.h"
#include "app/gui/number_format.h"
#include "app/gui/panels.h"

namespace dmascope::gui {

namespace {

// Timing starts by itself up to this length; longer runs (dense attention grows as L²) wait for the button.
constexpr std::int64_t kAutoTimingMaxLength = 4096;

void row(const char* name, const std::string& value, const std::string& note = {}) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextUnformatted(name);
  ImGui::TableSetColumnIndex(1);
  ImGui::TextUnformatted(value.c_str());
  ImGui::TableSetColumnIndex(2);
  ImGui::TextDisabled("%s", note.c_str());
}

void draw_timing(const LayerTiming& timing) {
  ImGui::Text("%s timings · %s · median of %d", timing.on_gpu ? "GPU" : "CPU", timing.device.c_str(), timing.repeats);
  if (ImGui::BeginTable("timing", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) {
    row("mask build", format_ms(timing.mask_build_ms), "death indices, all bias heads");
    row("DMA attention", format_ms(timing.dma_ms), fmt::format("spread {}", format_ms(timing.dma_spread_ms)));
    row("dense attention", format_ms(timing.dense_ms), fmt::format("spread {}", format_ms(timing.dense_spread_ms)));
    row("speedup", format_ratio(timing.speedup()), "dense / (mask build + DMA)");
    row("ideal speedup", format_ratio(timing.ideal_speedup()), "1 / token density");
    row("token density", format_percent(timing.token_density), "kept / causal pairs, all heads of the layer");
    row("tile density", format_percent(timing.tile_density), "active / causal tiles, all bias heads");
    row("pairs computed", format_count(timing.executed_pairs),
        fmt::format("useful {} · dense {}", format_count(timing.useful_pairs), format_count(timing.dense_pairs)));
    ImGui::EndTable();
  }
  const Bar bars[] = {
      {"DMA", timing.mask_build_ms + timing.dma_ms, timing.dma_spread_ms,
       format_ms(timing.mask_build_ms + timing.dma_ms), IM_COL32(0, 114, 178, 255)},
      {"dense", timing.dense_ms, timing.dense_spread_ms, format_ms(timing.dense_ms), IM_COL32(150, 150, 160, 255)},
  };
  draw_bar_chart("timing_bars", bars, ImGui::GetTextLineHeight() * 1.2f);
}

}  // namespace

void draw_timing_panel(AppState& state) {
  place_panel(PanelSlot::Timing);
  if (!ImGui::Begin("Timing")) {
    ImGui::End();
    return;
  }
  const auto result = state.pipeline.result();
  if (!result) {
    ImGui::TextDisabled("no result yet");
    ImGui::End();
    return;
  }
  const std::int64_t layer = state.view.layer;
  const bool cuda = result->settings.backend == Backend::Cuda;
  ImGui::Text("layer %lld · %s backend · %lld tokens · w %lld", static_cast<long long>(layer), cuda ? "CUDA" : "CPU",
              static_cast<long long>(result->length()), static_cast<long long>(result->forward.window));
  if (state.deterministic) {
    ImGui::TextWrapped("Timings are not measured for screenshots: they change from run to run.");
    ImGui::End();
    return;
  }
  if (state.pipeline.result_is_stale()) ImGui::TextDisabled("(for the previous settings: recomputing)");
  const auto timing = state.pipeline.timing(layer);
  const std::string error = state.pipeline.timing_error(layer);
  if (!timing && error.empty() && result->length() <= kAutoTimingMaxLength && !state.pipeline.result_is_stale())
    state.pipeline.request_timing(layer);
  if (state.pipeline.timing_running(layer)) {
    ImGui::TextDisabled("timing layer %lld…", static_cast<long long>(layer));
    ImGui::SameLine();
    if (ImGui::SmallButton("cancel")) state.pipeline.cancel();
  } else if (ImGui::SmallButton(timing || !error.empty() ? "time again" : "time this layer")) {
    state.pipeline.retry_timing(layer);
  }
  if (!error.empty()) ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.35f, 1.0f), "timing: %s", error.c_str());
  if (timing) draw_timing(*timing);
  ImGui::End();
}

}  // namespace dmascope::gui
