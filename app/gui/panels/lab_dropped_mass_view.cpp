// The Mask lab's "dropped mass" overlay: for one head and strategy, the dense probability of every entry the
// strategy dropped (max per pixel, so that one heavy dropped key is never averaged away), with its colour legend.
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "app/gui/panels/lab_views.h"
#include "app/gui/render/colormaps.h"
#include "core/lab/lab_metrics.h"
#include "core/view/view_geometry.h"

namespace dmascope::gui {

namespace {

constexpr std::int64_t kDroppedMassPixels = 256;  // the grid's side; the texture is scaled to the view

}  // namespace

void draw_lab_dropped_mass(AppState& state, const std::shared_ptr<const LabRun>& run_pointer) {
  const LabRun& run = *run_pointer;
  LabPanelState& lab = state.lab;
  const auto& strategies = run.settings.strategies;
  if (strategies.empty()) return;
  lab_layer_head_pickers(run, lab.dam_layer, lab.dam_head);
  ImGui::SameLine();
  lab.dropped_strategy = std::clamp(lab.dropped_strategy, 0, static_cast<int>(strategies.size()) - 1);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  if (ImGui::BeginCombo("strategy##dropped", std::string(strategy_name(strategies[lab.dropped_strategy])).c_str())) {
    for (int i = 0; i < static_cast<int>(strategies.size()); ++i)
      if (ImGui::Selectable(std::string(strategy_name(strategies[i])).c_str(), i == lab.dropped_strategy))
        lab.dropped_strategy = i;
    ImGui::EndCombo();
  }
  const Strategy strategy = strategies[static_cast<std::size_t>(lab.dropped_strategy)];
  const std::int64_t length = run.result.length;
  const std::int64_t pixels = std::min(kDroppedMassPixels, length);
  const std::string key = fmt::format("{}/{}/{}/{}", run.label, lab.dam_layer, lab.dam_head, strategy_name(strategy));
  lab.dropped_job.request(key, [run = run_pointer, layer = lab.dam_layer, head = lab.dam_head, strategy, length,
                                pixels] {
    const LabHeadView view = lab_head_view(*run, layer, head);
    LabPicture picture;
    picture.grid = dropped_mass_grid(view.head, strategy, run->settings.dense_with_bias,
                                     visible_window(whole_matrix(length), length), pixels, pixels, ReduceMode::Max);
    picture.side = pixels;
    float high = 0;
    for (float value : picture.grid) high = std::max(high, value);
    picture.high = high > 0 ? high : 1.0f;
    return picture;
  });
  if (lab.dropped_job.poll() && lab.dropped_job.finished().error.empty()) {
    const LabPicture& picture = lab.dropped_job.finished();
    lab.dropped_mass.upload(picture.grid, picture.side, picture.side);
  }
  const LabPicture& shown = lab.dropped_job.finished();
  if (!shown.error.empty()) {
    ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "dropped mass: %s", shown.error.c_str());
    return;
  }
  if (shown.key != key) ImGui::TextDisabled("computing the dropped mass of layer %d head %d…", lab.dam_layer,
                                            lab.dam_head);
  if (lab.dropped_mass.empty()) return;
  const float legend_height = ImGui::GetTextLineHeightWithSpacing() * 2;
  const ImVec2 available = ImGui::GetContentRegionAvail();
  const float side = std::max(64.0f, std::min(available.x, available.y - legend_height));
  const ImVec2 at = ImGui::GetCursorScreenPos();
  GridStyle style;
  style.table = &colormap_table(Colormap::Magma);
  style.low = 0.0f, style.high = shown.high;
  state.renderer->draw(ImGui::GetWindowDrawList(), lab.dropped_mass, at, ImVec2(side, side), style);
  ImGui::Dummy(ImVec2(side, side));
  if (ImGui::IsItemHovered() && shown.key == key && shown.side > 0 &&
      shown.grid.size() == static_cast<std::size_t>(shown.side * shown.side)) {
    // The pixel under the mouse: its queries and keys (cells_of_pixel's split of [0, L) into `side` pixels).
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    const auto pixel_of = [&](float offset) {
      return std::clamp<std::int64_t>(static_cast<std::int64_t>(offset / side * static_cast<float>(shown.side)), 0,
                                      shown.side - 1);
    };
    const std::int64_t px = pixel_of(mouse.x - at.x), py = pixel_of(mouse.y - at.y);
    const float value = shown.grid[static_cast<std::size_t>(py * shown.side + px)];
    const CellRange rows = cells_of_pixel(0, static_cast<double>(length), shown.side, py, length);
    const CellRange keys = cells_of_pixel(0, static_cast<double>(length), shown.side, px, length);
    if (value >= 0)
      ImGui::SetTooltip("queries %lld–%lld, keys %lld–%lld\nlargest dropped probability %.4f",
                        static_cast<long long>(rows.begin), static_cast<long long>(rows.end - 1),
                        static_cast<long long>(keys.begin), static_cast<long long>(keys.end - 1), value);
  }
  // Legend: the colour ramp from 0 to the largest dropped probability of this head.
  const ImVec2 ramp = ImGui::GetCursorScreenPos();
  const float ramp_width = std::min(side, ImGui::GetFontSize() * 16), ramp_height = ImGui::GetTextLineHeight();
  const ColormapTable& table = colormap_table(Colormap::Magma);
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  for (int i = 0; i < 64; ++i) {
    const Rgb& c = table[static_cast<std::size_t>(i * 4)];
    draw_list->AddRectFilled(ImVec2(ramp.x + ramp_width * i / 64, ramp.y),
                             ImVec2(ramp.x + ramp_width * (i + 1) / 64, ramp.y + ramp_height),
                             IM_COL32(c[0], c[1], c[2], 255));
  }
  ImGui::Dummy(ImVec2(ramp_width, ramp_height));
  ImGui::Text("dense probability of dropped entries (max per pixel): 0 … %.4f; %s, layer %d head %d",
              shown.high, std::string(strategy_name(strategy)).c_str(), lab.dam_layer, lab.dam_head);
}

}  // namespace dmascope::gui
