#include "app/gui/panels/heatmap_dropped_mass.h"

#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "app/gui/render/colormaps.h"
#include "core/lab/lab_head.h"
#include "core/lab/lab_metrics.h"

namespace dmascope::gui {

namespace {

// The overlay's side in texels at most: past it the picture is scaled up (a 4K-token view costs O(L²·d) whatever
// the side; the side only bounds the reduction's memory and the upload).
constexpr std::int64_t kMaxOverlayTexels = 512;
// Strategies with a budget (dam needs a calibration: the Mask lab shows its dropped mass).
constexpr Strategy kOverlayStrategies[] = {Strategy::Dma, Strategy::Shared, Strategy::Swa,
                                           Strategy::Sinks, Strategy::Oracle, Strategy::Nsa};
// Warm colours over the heatmap's usual viridis: the overlay reads as a different quantity.
constexpr Colormap kOverlayColormap = Colormap::Magma;

std::string picture_key(const PipelineResult& result, const ViewState& view, Strategy strategy,
                        const MatrixWindow& window, std::int64_t side) {
  return fmt::format("{}/{}/{}/{}/{}/{}/{}/{}/{}", result.generation, view.layer, view.head, strategy_name(strategy),
                     window.row_begin, window.row_end, window.col_begin, window.col_end, side);
}

}  // namespace

void draw_dropped_mass_controls(AppState& state) {
  HeatmapPanelState& panel = state.heatmap;
  ImGui::Checkbox("dropped mass", &panel.show_dropped_mass);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("overlay: the dense probability (with \xce\xb2) of every entry the strategy dropped, max per "
                      "pixel, at the result's w (D)");
  if (!panel.show_dropped_mass) return;
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5.5f);
  if (ImGui::BeginCombo("##dropped_strategy", std::string(strategy_name(panel.dropped_strategy)).c_str())) {
    for (Strategy strategy : kOverlayStrategies)
      if (ImGui::Selectable(std::string(strategy_name(strategy)).c_str(), strategy == panel.dropped_strategy))
        panel.dropped_strategy = strategy;
    ImGui::EndCombo();
  }
  // Legend: the ramp as the overlay blends it (opacity grows with the value), then its range.
  ImGui::SameLine();
  const LabPicture* shown = panel.dropped_job ? &panel.dropped_job->finished() : nullptr;
  const float ramp_width = ImGui::GetFontSize() * 6, ramp_height = ImGui::GetTextLineHeight();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const ColormapTable& table = colormap_table(kOverlayColormap);
  draw_list->AddRectFilled(at, ImVec2(at.x + ramp_width, at.y + ramp_height), IM_COL32(128, 128, 128, 255));
  for (int i = 0; i < 32; ++i) {
    const int entry = i * 8 + 4;
    const Rgb& c = table[static_cast<std::size_t>(entry)];
    const auto alpha = static_cast<int>(255.0f * std::sqrt(static_cast<float>(entry) / 255.0f));
    draw_list->AddRectFilled(ImVec2(at.x + ramp_width * static_cast<float>(i) / 32, at.y),
                             ImVec2(at.x + ramp_width * static_cast<float>(i + 1) / 32, at.y + ramp_height),
                             IM_COL32(c[0], c[1], c[2], alpha));
  }
  ImGui::Dummy(ImVec2(ramp_width, ramp_height));
  ImGui::SameLine();
  if (shown != nullptr && !shown->error.empty())
    ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "%s", shown->error.c_str());
  else if (shown != nullptr && !shown->key.empty())
    ImGui::Text("0 … %.3g%s", static_cast<double>(shown->high),
                panel.dropped_job->busy() || shown->key != panel.dropped_job->wanted_key() ? " (computing…)" : "");
  else
    ImGui::TextDisabled("computing…");
}

void update_dropped_mass(AppState& state, const std::shared_ptr<const PipelineResult>& result,
                         const MatrixWindow& window, std::int64_t texels) {
  HeatmapPanelState& panel = state.heatmap;
  if (!panel.show_dropped_mass || !result) return;
  if (!panel.dropped_job) panel.dropped_job = std::make_unique<LabPictureJob>(state.wake);
  const ViewState& view = state.view;
  const std::int64_t side = std::clamp<std::int64_t>(texels, 1, kMaxOverlayTexels);
  const Strategy strategy = panel.dropped_strategy;
  const std::string key = picture_key(*result, view, strategy, window, side);
  if (panel.dropped_job->wanted_key() != key)
    panel.dropped_job->request(key, [result, layer = view.layer, head = view.head, strategy, window, side] {
      const LabLayer lab_layer(result->forward.layers.at(static_cast<std::size_t>(layer)), result->forward.window);
      LabPicture picture;
      picture.grid = dropped_mass_grid(lab_layer.head(head), strategy, true, window, side, side, ReduceMode::Max);
      picture.side = side;
      float high = 0;
      for (float value : picture.grid) high = std::max(high, value);
      picture.high = high > 0 ? high : 1.0f;
      return picture;
    });
  panel.dropped_job->poll();
  const LabPicture& picture = panel.dropped_job->finished();
  {  // any finished picture not yet uploaded (request() itself may have collected it)
    if (picture.error.empty() && !picture.key.empty() && picture.key != panel.dropped_uploaded) {
      panel.dropped_texture.upload(picture.grid, picture.side, picture.side);
      panel.dropped_uploaded = picture.key;
    }
  }
}

void draw_dropped_mass_overlay(AppState& state, ImVec2 origin, float side) {
  const HeatmapPanelState& panel = state.heatmap;
  if (!panel.show_dropped_mass || !panel.dropped_job || panel.dropped_texture.empty()) return;
  // Only the picture of this very view: a stale one would paint another window's cells over this one.
  if (panel.dropped_uploaded != panel.dropped_job->wanted_key()) return;
  GridStyle style;
  style.table = &colormap_table(kOverlayColormap);
  style.low = 0.0f;
  style.high = panel.dropped_job->finished().high;
  style.overlay = true;
  state.renderer->draw(ImGui::GetWindowDrawList(), panel.dropped_texture, origin, ImVec2(side, side), style);
}

}  // namespace dmascope::gui
