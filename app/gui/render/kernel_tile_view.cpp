#include "app/gui/render/kernel_tile_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "app/gui/engine_vocabulary.h"
#include "engine/timing/kernel_tile_grid.h"
#include "app/gui/render/number_format.h"
#include "core/view/view_reduce.h"

namespace dmascope::gui {

namespace {

constexpr Colormap kCtaColormap = Colormap::Magma;

// A horizontal colour bar from the CTA colormap with its end values in µs.
void draw_cta_legend(float low_us, float high_us) {
  const ColormapTable& table = colormap_table(kCtaColormap);
  const float width = ImGui::GetFontSize() * 8, height = ImGui::GetTextLineHeight() * 0.8f;
  ImGui::TextUnformatted(fmt::format("{:.1f} µs", low_us).c_str());
  ImGui::SameLine();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  constexpr int kSteps = 32;
  for (int n = 0; n < kSteps; ++n) {
    const Rgb& c = table[static_cast<std::size_t>(n * 255 / (kSteps - 1))];
    draw->AddRectFilled(ImVec2(at.x + width * n / kSteps, at.y + 2), ImVec2(at.x + width * (n + 1) / kSteps, at.y + 2 + height),
                        IM_COL32(c[0], c[1], c[2], 255));
  }
  ImGui::Dummy(ImVec2(width, height));
  ImGui::SameLine();
  ImGui::TextUnformatted(fmt::format("{:.1f} µs per CTA", high_us).c_str());
}

// The kernel's statuses of one bias head, from the panel's cache (kernel_status_map copies and counts every tile).
const TileMap& cached_status_map(KernelTilePanelState& panel, const KernelTileMap& map, std::int64_t bias_head,
                                 std::int64_t length) {
  if (!panel.statuses || panel.statuses_generation != map.generation || panel.statuses_layer != map.layer ||
      panel.statuses_bias_head != bias_head) {
    panel.statuses = std::make_shared<const TileMap>(kernel_status_map(map, bias_head, length));
    panel.statuses_generation = map.generation;
    panel.statuses_layer = map.layer;
    panel.statuses_bias_head = bias_head;
  }
  return *panel.statuses;
}

}  // namespace

void draw_kernel_tile_controls(AppState& state, const PipelineResult& result) {
  KernelTilePanelState& panel = state.kernel_tiles;
  int layer = static_cast<int>(panel.layer);
  ImGui::TextDisabled("kernel layer:");
  ImGui::SameLine();
  ImGui::RadioButton("statuses", &layer, static_cast<int>(KernelTileLayer::Statuses));
  ImGui::SameLine();
  ImGui::RadioButton("CTA time", &layer, static_cast<int>(KernelTileLayer::CtaTime));
  panel.layer = static_cast<KernelTileLayer>(layer);
  if (result.settings.backend != Backend::Cuda) {
    if (panel.layer == KernelTileLayer::CtaTime) {
      ImGui::SameLine();
      ImGui::TextColored(ImVec4(1.0f, 0.65f, 0.2f, 1.0f), "per-CTA time needs the CUDA backend");
    }
    return;
  }
  const std::int64_t map_layer = state.view.layer;
  // Statuses are deterministic, so screenshots show them too (the CTA-time layer is not, and is never the default).
  if (!state.pipeline.result_is_stale()) state.pipeline.request_kernel_tiles(map_layer);
  const auto map = state.pipeline.kernel_tiles(map_layer);
  const std::string error = state.pipeline.kernel_tiles_error(map_layer);
  if (!error.empty()) {
    ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.35f, 1.0f), "%s", error.c_str());
    return;
  }
  if (!map) {
    ImGui::TextDisabled("%s", state.pipeline.kernel_tiles_running(map_layer) ? "instrumented kernel run…"
                                                                             : "kernel tile map: waiting for the worker");
    return;
  }
  const std::int64_t bias_head = result.bias_head_of(state.view.head);
  const TileMap& tiles = cached_status_map(panel, *map, bias_head, result.length());
  ImGui::Text("kernel (%lld×%lld, %s): tile density %s · partial %lld · full %lld", static_cast<long long>(map->tile_rows),
              static_cast<long long>(map->tile_cols), map->device.c_str(),
              format_percent(tiles.causal_tiles ? static_cast<double>(tiles.partial + tiles.full) / tiles.causal_tiles : 0)
                  .c_str(),
              static_cast<long long>(tiles.partial), static_cast<long long>(tiles.full));
  if (panel.layer == KernelTileLayer::CtaTime) {
    const CtaTimeRange range = cta_time_range(*map, state.view.head);
    draw_cta_legend(static_cast<float>(range.low_us), static_cast<float>(range.high_us));
  }
}

void draw_kernel_tile_view(AppState& state, const PipelineResult& result, const MatrixWindow& window, ImVec2 origin,
                           float side) {
  const auto map = state.pipeline.kernel_tiles(state.view.layer);
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  draw_list->AddRect(ImVec2(origin.x - 1, origin.y - 1), ImVec2(origin.x + side + 1, origin.y + side + 1),
                     ImGui::GetColorU32(ImGuiCol_Border));
  if (!map) return;
  KernelTilePanelState& panel = state.kernel_tiles;
  const std::int64_t L = result.length(), head = state.view.head, bias_head = result.bias_head_of(head);
  const auto texels = static_cast<std::int64_t>(side * ImGui::GetIO().DisplayFramebufferScale.x);
  const bool cta = panel.layer == KernelTileLayer::CtaTime;
  const bool same = panel.generation == map->generation && panel.map_layer == map->layer && panel.head == head &&
                    panel.width == texels && panel.row_begin == window.row_begin && panel.row_end == window.row_end &&
                    panel.col_begin == window.col_begin && panel.col_end == window.col_end && panel.drawn_layer == panel.layer;
  if (!same || panel.texture.empty()) {
    panel.texture.upload(cta ? kernel_cta_grid(*map, head, L, window, texels, texels)
                             : reduce_tile_map_to_grid(cached_status_map(panel, *map, bias_head, L), L, window,
                                                       texels, texels),
                         texels, texels);
    panel.generation = map->generation;
    panel.map_layer = map->layer;
    panel.head = head;
    panel.width = texels;
    panel.row_begin = window.row_begin;
    panel.row_end = window.row_end;
    panel.col_begin = window.col_begin;
    panel.col_end = window.col_end;
    panel.drawn_layer = panel.layer;
    const CtaTimeRange range = cta_time_range(*map, head);
    panel.cta_low_us = static_cast<float>(range.low_us);
    panel.cta_high_us = static_cast<float>(std::max(range.high_us, range.low_us + 1e-3));
  }
  GridStyle style;
  if (cta) {
    style.table = &colormap_table(kCtaColormap);
    style.mapping = GridMapping::Linear;
    style.low = panel.cta_low_us;
    style.high = panel.cta_high_us;
  } else {
    style.table = &tile_status_table();
    style.mapping = GridMapping::Categorical;
  }
  state.renderer->draw(draw_list, panel.texture, origin, ImVec2(side, side), style);
  ImGui::SetCursorScreenPos(origin);
  ImGui::InvisibleButton("kernel_tile_area", ImVec2(side, side));
  if (ImGui::IsItemHovered()) {
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    if (const auto cell = cell_at_point(window, L, side, side, mouse.x - origin.x, mouse.y - origin.y)) {
      const std::int64_t qt = cell->query / map->tile_rows, kt = cell->key / map->tile_cols;
      const bool above = kt * map->tile_cols > std::min(L, (qt + 1) * map->tile_rows) - 1;
      // Kept entries and keys gathered as the kernel counted them (the statuses follow from the kept entries).
      const std::size_t tile = static_cast<std::size_t>((bias_head * map->q_tiles + qt) * map->k_tiles + kt);
      const int kept = tile < map->counters.kept_entries.size() ? map->counters.kept_entries[tile] : 0;
      ImGui::SetTooltip("kernel tile (%lld, %lld): %s, %d kept entries\nCTA of head %lld, query tile %lld: %.2f µs\n"
                        "keys gathered: %d (from the kernel's counters)",
                        static_cast<long long>(qt), static_cast<long long>(kt),
                        above ? "above the diagonal"
                              : std::string(tile_status_name(static_cast<TileStatus>(map->status_at(bias_head, qt, kt)))).c_str(),
                        kept, static_cast<long long>(head), static_cast<long long>(qt), map->cta_us(head, qt),
                        map->keys_gathered[static_cast<std::size_t>(bias_head * map->q_tiles + qt)]);
    }
  }
}

}  // namespace dmascope::gui
