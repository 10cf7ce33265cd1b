// The Tile map panel: the statuses (empty / partial / full) of the tiles of the current head, as the CPU kernel
// reports them (LayerCapture::tile_maps), over the same part of the matrix as the heatmap, with token and tile
// density side by side — and the work the kernel really does, which is neither: it gathers, per query tile, the keys
// some row of the tile keeps and computes all of those pairs (core/attention/gathered_work.h). With the CUDA backend
// the kernel's own tiles stand beside, and the gathered work comes from the counters the forward kernel wrote.
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "app/gui/render/kernel_tile_view.h"
#include "app/gui/render/number_format.h"
#include "app/gui/panels/panels.h"
#include "app/gui/panels/shown_text.h"
#include "core/attention/gathered_work.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/timing/timing_csv.h"
#include "core/formats/atomic_write.h"
#include "core/view/view_reduce.h"

namespace dmascope::gui {

namespace {

ImU32 to_u32(const Rgb& rgb) { return IM_COL32(rgb[0], rgb[1], rgb[2], 255); }

void legend_entry(FrameLayout& layout, const Rgb& color, const char* label, std::int64_t count) {
  const float size = ImGui::GetTextLineHeight();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImGui::GetWindowDrawList()->AddRectFilled(at, ImVec2(at.x + size, at.y + size), to_u32(color));
  ImGui::Dummy(ImVec2(size, size));
  ImGui::SameLine();
  const std::string text = fmt::format("{} {}", label, count);
  ImGui::TextUnformatted(text.c_str());
  note_item_text(layout, text);
}

// SameLine() when `text` still fits on this line: the legend wraps instead of running off a narrow panel.
void same_line_if_text_fits(const char* text) {
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  const float width = ImGui::GetTextLineHeight() * 2 + ImGui::CalcTextSize(text).x + 4 * ImGui::GetStyle().ItemSpacing.x;
  if (ImGui::GetItemRectMax().x + width <= right) ImGui::SameLine();
}

// The gathered work of the current bias head and where it comes from: with the CUDA backend, the counters the DMA
// forward kernel wrote in its instrumented run of this layer (once that run is back); otherwise the CPU twin's count
// from the death indices (core/attention/kernel_counters.h gives both the same numbers).
struct ShownWork {
  GatheredWork work;
  bool from_kernel = false;
};

ShownWork shown_work(AppState& state, const PipelineResult& result, std::int64_t layer, std::int64_t bias_head) {
  if (result.settings.backend == Backend::Cuda)
    if (const auto kernel = state.pipeline.kernel_tiles(layer);
        kernel && kernel->generation == result.generation && !kernel->counters.empty()) {
      const KernelCounters& counters = kernel->counters;
      return {gathered_work_from_counters(counters, bias_head * (counters.q_heads / counters.bias_heads)), true};
    }
  const auto death = result.death(layer, bias_head);
  return {kernel_gathered_work(death.data(), result.length()), false};
}

// Token density, tile density and the gathered work, each a line of its own (wrapping when the panel is narrow).
void draw_density_and_work(FrameLayout& layout, const TileMap& map, const ShownWork& shown) {
  const GatheredWork& work = shown.work;
  const std::string densities =
      fmt::format("token density {} · tile density {} ({} of {} causal tiles hold a kept entry)",
                  format_percent(map.token_density()), format_percent(map.tile_density()), map.partial + map.full,
                  map.causal_tiles);
  ImGui::TextWrapped("%s", densities.c_str());
  note_item_text(layout, densities);
  const ImVec2 work_top = ImGui::GetCursorScreenPos();
  const std::string gathered =
      fmt::format("keys gathered per {}-row query tile of the DMA kernels: {:.0f} on average, at most {}{}", work.tile_rows,
                  work.mean_keys_per_tile(), work.max_keys_per_tile(),
                  shown.from_kernel ? " (from the kernel's counters)" : "");
  ImGui::TextWrapped("%s", gathered.c_str());
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("%s", shown.from_kernel
                                ? "Counted by the CUDA forward kernel itself while it ran this layer (an instrumented "
                                  "run;\nthe timed runs have the counters off)."
                                : "Counted on the CPU from the death indices, as the kernels gather them (their CPU "
                                  "twin;\nwith the CUDA backend the kernel's own counters replace it).");
  note_item_text(layout, gathered);
  const std::string executed = fmt::format("executed (query, key) pairs: {} of dense → ideal speedup {}",
                                           format_percent(work.executed_fraction()), format_ratio(work.ideal_speedup()));
  ImGui::TextWrapped("%s", executed.c_str());
  note_item_text(layout, executed);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("The kernel does not skip empty tiles: for each query tile it gathers the keys some row keeps\n"
                      "and computes every (row, gathered key) pair. Its work follows these pairs, not the tiles.");
  note_region(layout, TourHighlight::GatheredKeys, work_top, ImGui::GetItemRectMax());
}

// Thin lines on tile edges once tiles are large enough on screen to tell apart (they sit on the edges, so tile
// centres keep their status colour).
void draw_tile_grid(ImDrawList* draw_list, const TileMap& map, const MatrixWindow& window, ImVec2 origin, float side) {
  constexpr float kMinTilePixels = 8.0f;
  const double pixels_per_token = side / window.cols();
  if (map.shape.cols * pixels_per_token < kMinTilePixels || map.shape.rows * pixels_per_token < kMinTilePixels) return;
  const ImU32 color = IM_COL32(20, 20, 24, 255);
  for (std::int64_t kt = static_cast<std::int64_t>(window.col_begin) / map.shape.cols + 1; kt < map.k_tiles; ++kt) {
    const float x = std::floor(origin.x + static_cast<float>((kt * map.shape.cols - window.col_begin) * pixels_per_token));
    if (x >= origin.x + side) break;
    if (x > origin.x) draw_list->AddLine(ImVec2(x, origin.y), ImVec2(x, origin.y + side), color);
  }
  for (std::int64_t qt = static_cast<std::int64_t>(window.row_begin) / map.shape.rows + 1; qt < map.q_tiles; ++qt) {
    const float y = std::floor(origin.y + static_cast<float>((qt * map.shape.rows - window.row_begin) * pixels_per_token));
    if (y >= origin.y + side) break;
    if (y > origin.y) draw_list->AddLine(ImVec2(origin.x, y), ImVec2(origin.x + side, y), color);
  }
}

// CSV of the layer's CPU tile maps (all heads), and of the kernel's tiles with each CTA's µs when there is one.
void export_tile_csv(AppState& state, const PipelineResult& result, std::int64_t layer) {
  const auto cpu_written = export_file_action(
      state, "tile map CSV", tile_map_csv_name(result, layer), [&](const std::filesystem::path& path) {
        write_file_atomically(path, cpu_tile_map_csv(result.forward.layers.at(static_cast<std::size_t>(layer)).tile_maps,
                                                     result.q_heads(), result.length()));
      });
  const auto kernel = state.pipeline.kernel_tiles(layer);
  if (!cpu_written || !kernel) return;
  const std::string cpu_message = state.ui_message;
  if (export_file_action(state, "kernel tile map CSV", kernel_tile_map_csv_name(result, *kernel),
                         [&](const std::filesystem::path& path) {
                           write_file_atomically(path, kernel_tile_map_csv(*kernel, result.length()));
                         }))
    state.ui_message = cpu_message + "; " + state.ui_message;
}

}  // namespace

void draw_tile_map_panel(AppState& state) {
  state.layout.tiles_drawn = false;  // until drawn below
  const auto result = begin_result_panel(state, PanelSlot::TileMap, "Tile map");
  if (!result) return;
  const ViewState& view = state.view;
  const std::int64_t bias_head = result->bias_head_of(view.head);
  const TileMap& map = result->tile_map(view.layer, bias_head);
  ImGui::TextWrapped("layer %lld, bias head %lld · %lldx%lld tiles of %lldx%lld tokens",
                     static_cast<long long>(view.layer), static_cast<long long>(bias_head),
                     static_cast<long long>(map.q_tiles), static_cast<long long>(map.k_tiles),
                     static_cast<long long>(map.shape.rows), static_cast<long long>(map.shape.cols));
  // build_tile_map counts the tiles above the diagonal as skipped; the picture draws them apart, so does the legend:
  // "empty" is a causal tile with no kept entry, the word every view uses.
  const std::int64_t causal_empty = map.causal_tiles - map.partial - map.full;
  FrameLayout& layout = state.layout;
  legend_entry(layout, kTileSkippedColor, "empty", causal_empty);
  same_line_if_text_fits("partial 0000");
  legend_entry(layout, kTilePartialColor, "partial", map.partial);
  same_line_if_text_fits("full 0000");
  legend_entry(layout, kTileFullColor, "full", map.full);
  same_line_if_text_fits("above the diagonal 0000");
  legend_entry(layout, kAboveDiagonalColor, "above the diagonal", map.skipped - causal_empty);
  draw_density_and_work(layout, map, shown_work(state, *result, view.layer, bias_head));

  draw_kernel_tile_controls(state, *result);
  if (ImGui::SmallButton("export CSV")) export_tile_csv(state, *result, view.layer);
  ImGui::SameLine();
  panel_png_button(state, "tiles");

  const std::int64_t L = result->length();
  // On CUDA the kernel's own 64×64 tiles stand beside the CPU map, at the same size and over the same tokens.
  const bool kernel_beside = result->settings.backend == Backend::Cuda;
  constexpr float kGap = 12;
  if (kernel_beside) ImGui::TextDisabled("CPU tile map, %lldx%lld tiles", static_cast<long long>(map.shape.rows),
                                         static_cast<long long>(map.shape.cols));
  const ImVec2 cursor = ImGui::GetCursorScreenPos(), available = ImGui::GetContentRegionAvail();
  const float side = std::floor(kernel_beside ? std::min((available.x - 8 - kGap) / 2, available.y - 8)
                                              : std::min(available.x - 8, available.y - 8));
  if (side < 16) {
    ImGui::End();
    return;
  }
  const ImVec2 origin(std::floor(cursor.x + 4), std::floor(cursor.y + 4));
  if (kernel_beside)
    ImGui::GetWindowDrawList()->AddText(ImVec2(origin.x + side + kGap, cursor.y - ImGui::GetTextLineHeightWithSpacing()),
                                        ImGui::GetColorU32(ImGuiCol_TextDisabled),
                                        state.kernel_tiles.layer == KernelTileLayer::CtaTime
                                            ? "CUDA kernel: µs of each CTA (a row band per query tile)"
                                            : "CUDA kernel's own tiles, 64x64, from its counters");
  // The heatmap's part of the matrix, so that both pictures show the same tokens (the heatmap draws first).
  const MatrixWindow window = state.layout.heatmap_drawn && state.layout.length == L
                                  ? state.layout.window
                                  : visible_window(clamp_zoom_pan(view.zoom_pan, L, side), L);
  const auto texels = static_cast<std::int64_t>(side * ImGui::GetIO().DisplayFramebufferScale.x);
  const GridKey key{result->generation, view.layer, bias_head, 0, 0, window.row_begin, window.row_end,
                    window.col_begin, window.col_end, texels, texels};
  if (!(key == state.tiles.key) || state.tiles.tiles.empty()) {
    state.tiles.key = key;
    state.tiles.tiles.upload(reduce_tile_map_to_grid(map, L, window, texels, texels), texels, texels);
  }
  GridStyle style;
  style.table = &tile_status_table();
  style.mapping = GridMapping::Categorical;
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  state.renderer->draw(draw_list, state.tiles.tiles, origin, ImVec2(side, side), style);
  draw_tile_grid(draw_list, map, window, origin, side);
  if (state.pipeline.result_is_stale()) draw_stale_badge(draw_list, origin);
  note_region(layout, TourHighlight::SkippedTiles, origin, ImVec2(origin.x + side, origin.y + side));
  draw_list->AddRect(ImVec2(origin.x - 1, origin.y - 1), ImVec2(origin.x + side + 1, origin.y + side + 1),
                     ImGui::GetColorU32(ImGuiCol_Border));
  ImGui::SetCursorScreenPos(origin);
  ImGui::InvisibleButton("tile_area", ImVec2(side, side));
  if (ImGui::IsItemHovered()) {
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    if (const auto cell = cell_at_point(window, L, side, side, mouse.x - origin.x, mouse.y - origin.y)) {
      const std::int64_t qt = cell->query / map.shape.rows, kt = cell->key / map.shape.cols;
      const auto status = static_cast<TileStatus>(map.status[static_cast<std::size_t>(qt * map.k_tiles + kt)]);
      ImGui::SetTooltip("tile (%lld, %lld): queries %lld..%lld × keys %lld..%lld\n%s",
                        static_cast<long long>(qt), static_cast<long long>(kt),
                        static_cast<long long>(qt * map.shape.rows),
                        static_cast<long long>(std::min(L, (qt + 1) * map.shape.rows) - 1),
                        static_cast<long long>(kt * map.shape.cols),
                        static_cast<long long>(std::min(L, (kt + 1) * map.shape.cols) - 1),
                        kt * map.shape.cols > std::min(L, (qt + 1) * map.shape.rows) - 1
                            ? "above the diagonal"
                            : status == TileStatus::Skipped ? "empty: no kept entry"
                                                            : std::string(tile_status_name(status)).c_str());
    }
  }
  if (kernel_beside) draw_kernel_tile_view(state, *result, window, ImVec2(origin.x + side + kGap, origin.y), side);
  const ImVec2 framebuffer_scale = ImGui::GetIO().DisplayFramebufferScale;
  state.layout.tiles_drawn = true;
  state.layout.tiles_x = origin.x * framebuffer_scale.x;
  state.layout.tiles_y = origin.y * framebuffer_scale.y;
  state.layout.tiles_side = side * framebuffer_scale.x;
  ImGui::End();
}

}  // namespace dmascope::gui
