// The Heatmap panel: one head's kept mask, attention probabilities or logits (q·k/√d + β on kept entries, computed for
// the view from the q/k captures, on the GPU that ran the forward or on the CPU) as one shader-coloured quad of a view-sized grid (core/view/view_reduce.h), the β strip
// under it, a colour bar, axes with index ticks or token labels, zoom (wheel) and pan (drag), and a tooltip with the
// exact cell under the mouse. Logit and probability grids that cost more than a frame's share are reduced on a worker
// (logit_grid_job.h) while the previous grid stays on screen.
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string>

#include "app/gui/panels/answers_section.h"
#include "app/gui/panels/beta_pipeline.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/pipeline/mask_grid.h"
#include "engine/pipeline/logit_view.h"
#include "app/gui/render/number_format.h"
#include "app/gui/panels/heatmap_dropped_mass.h"
#include "app/gui/panels/panels.h"
#include "app/gui/panels/shown_text.h"
#include "app/gui/presenter/presenter.h"
#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/view/view_reduce.h"

namespace dmascope::gui {

namespace {

constexpr float kWheelZoomStep = 1.25f;
// A logit grid is reduced on the UI thread when it costs at most this many multiply-adds (≈ 1-2 ms on one core),
// so that zoomed-in views follow a pan without a frame of lag; costlier grids go to the worker.
constexpr std::int64_t kLogitMultiplyAddsPerFrame = std::int64_t{1} << 22;


GridStyle value_style(const AppState& state, float low, float high, float log_floor_fraction) {
  GridStyle style;
  style.table = &colormap_table(state.view.colormap);
  if (state.view.scale == ColorScale::Log) {
    style.mapping = GridMapping::Log;
    style.low = std::max(high * log_floor_fraction, 1e-30f);
    style.high = std::max(high, 1e-30f);
  } else {
    style.low = low;
    style.high = high > low ? high : low + 1.0f;
  }
  return style;
}

// SameLine() when an item `width` wide still fits on this line, else a new line: the toolbar wraps instead of being
// clipped at large UI scales.
void same_line_if_fits(float width) {
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  if (ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + width <= right) ImGui::SameLine();
}
float radio_width(const char* label) {
  return ImGui::GetFrameHeight() + ImGui::GetStyle().ItemInnerSpacing.x + ImGui::CalcTextSize(label).x;
}
float labelled_width(float field_width, const char* label) {
  return field_width + ImGui::GetStyle().ItemInnerSpacing.x + ImGui::CalcTextSize(label).x;
}

// The layer/head/quantity/colour controls above the picture.
void draw_toolbar(AppState& state, const PipelineResult& result) {
  ViewState& view = state.view;
  const float field = ImGui::GetFontSize() * 6;
  ImGui::SetNextItemWidth(field);
  int layer = static_cast<int>(view.layer);
  if (ImGui::SliderInt("layer", &layer, 0, static_cast<int>(result.layers() - 1))) view.layer = layer;
  same_line_if_fits(labelled_width(field, "head"));
  ImGui::SetNextItemWidth(field);
  int head = static_cast<int>(view.head);
  if (ImGui::SliderInt("head", &head, 0, static_cast<int>(result.q_heads() - 1))) view.head = head;
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("query head %d uses the mask of bias head %lld", head,
                      static_cast<long long>(result.bias_head_of(head)));
  int quantity = static_cast<int>(view.quantity);
  same_line_if_fits(radio_width("mask"));
  ImGui::RadioButton("mask", &quantity, 0);
  same_line_if_fits(radio_width("probs"));
  ImGui::RadioButton("probs", &quantity, 1);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("softmax probabilities of the kept entries, computed for the visible rows (%s)",
                      logit_view_device(result));
  same_line_if_fits(radio_width("logits"));
  ImGui::RadioButton("logits", &quantity, 2);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("q·k/√d + β on kept entries: what the softmax sees (masked entries hatched)");
  view.quantity = static_cast<HeatmapQuantity>(quantity);

  ImGui::SetNextItemWidth(field);
  if (ImGui::BeginCombo("colormap", std::string(colormap_name(view.colormap)).c_str())) {
    for (Colormap colormap : kColormaps)
      if (ImGui::Selectable(std::string(colormap_name(colormap)).c_str(), colormap == view.colormap))
        view.colormap = colormap;
    ImGui::EndCombo();
  }
  int scale = static_cast<int>(view.scale);
  same_line_if_fits(radio_width("linear"));
  ImGui::RadioButton("linear", &scale, 0);
  same_line_if_fits(radio_width("log"));
  ImGui::RadioButton("log", &scale, 1);
  if (ImGui::IsItemHovered() && view.quantity == HeatmapQuantity::Logits)
    ImGui::SetTooltip("logits: log10 of (logit − min + 1), so that the low end spreads");
  else if (ImGui::IsItemHovered() && view.quantity == HeatmapQuantity::Probabilities)
    ImGui::SetTooltip("probabilities: log10, down to 10⁻⁴ of the largest");
  view.scale = static_cast<ColorScale>(scale);
  int reduce = static_cast<int>(view.reduce);
  same_line_if_fits(radio_width("mean"));
  ImGui::RadioButton("mean", &reduce, 0);
  same_line_if_fits(radio_width("max"));
  ImGui::RadioButton("max", &reduce, 1);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("zoomed out, a pixel shows the mean or the max of its cells");
  view.reduce = static_cast<ReduceMode>(reduce);
  same_line_if_fits(radio_width("death indices"));
  ImGui::Checkbox("death indices", &state.heatmap.show_death_indices);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("mark each key's death index: the first row that no longer keeps it (its kept run ends there)");
  same_line_if_fits(ImGui::CalcTextSize("dropped mass").x + ImGui::GetFrameHeight() + 8);
  draw_dropped_mass_controls(state);
  same_line_if_fits(ImGui::CalcTextSize("PNG").x + 2 * ImGui::GetStyle().FramePadding.x);
  panel_png_button(state, "heatmap");
}

// The mask grid (the logits and probabilities have their own, update_value_grid).
void update_matrix_grid(AppState& state, const PipelineResult& result, const MatrixWindow& window, std::int64_t texels) {
  const ViewState& view = state.view;
  const GridKey key{result.generation, view.layer, view.head, 0, static_cast<int>(view.reduce),
                    window.row_begin, window.row_end, window.col_begin, window.col_end, texels, texels};
  HeatmapPanelState& panel = state.heatmap;
  if (key == panel.matrix_key && !panel.matrix.empty()) return;
  panel.matrix_key = key;
  panel.matrix_values = reduce_result_mask(result, view.layer, result.bias_head_of(view.head), window, texels, texels,
                                           view.reduce, &panel.matrix_reduced_on);
  panel.matrix_high = 1.0f;
  panel.matrix.upload(panel.matrix_values, texels, texels);
}

// The grid values the shader colours, kNoCausalCell above the diagonal and kMaskedGridValue where all is masked.
// Logits: normalised to [0, 1] (linear) or shifted to [1, high − low + 1] (log, so that log10 spreads the low end).
// Probabilities: divided by the largest (linear; their zero stays zero) or as they are (log, 10⁻⁴ of the largest up).
std::vector<float> logit_display_values(const LogitGrid& grid, ColorScale scale, bool probabilities) {
  std::vector<float> values(grid.values.size());
  const float span = grid.high > grid.low ? grid.high - grid.low : 1.0f;
  const float largest = grid.high > 0.0f ? grid.high : 1.0f;
  for (std::size_t p = 0; p < values.size(); ++p) {
    switch (grid.coverage[p]) {
      case LogitPixel::NoCausalCell: values[p] = kNoCausalCell; break;
      case LogitPixel::AllMasked: values[p] = kMaskedGridValue; break;
      case LogitPixel::Value:
        if (probabilities)
          values[p] = scale == ColorScale::Log ? grid.values[p] : grid.values[p] / largest;
        else
          values[p] = scale == ColorScale::Log ? grid.values[p] - grid.low + 1.0f : (grid.values[p] - grid.low) / span;
        break;
    }
  }
  return values;
}

GridStyle logit_style(const AppState& state) {
  const LogitGrid& grid = state.heatmap.logits;
  if (state.heatmap.logit_key.quantity == static_cast<int>(HeatmapQuantity::Probabilities))
    return state.view.scale == ColorScale::Log ? value_style(state, 0.0f, grid.high, 1e-4f)
                                               : value_style(state, 0.0f, 1.0f, 1e-4f);
  GridStyle style;
  style.table = &colormap_table(state.view.colormap);
  if (state.view.scale == ColorScale::Log) {
    style.mapping = GridMapping::Log;
    style.low = 1.0f;
    style.high = std::max(grid.high - grid.low + 1.0f, 1.0f + 1e-6f);
  }
  return style;
}

bool shows_probabilities(const GridKey& key) { return key.quantity == static_cast<int>(HeatmapQuantity::Probabilities); }

void show_logit_grid(HeatmapPanelState& panel, FinishedLogitGrid finished, ColorScale scale) {
  panel.logit_key = finished.key;
  panel.logit_error = printable(finished.error);  // shown in the panel: escaped like every error
  panel.logits = std::move(finished.grid);
  panel.logit_scale = scale;
  if (panel.logit_error.empty())
    panel.logit_texture.upload(logit_display_values(panel.logits, scale, shows_probabilities(panel.logit_key)),
                               panel.logits.width, panel.logits.height);
}

// Keeps state.heatmap.logits (and the texture) on the view's logit or probability grid: at once when that is cheap or
// in screenshot mode, else through the worker, showing the previous grid until it is done. The texture holds display
// values, so a colour scale change re-uploads the grid without reducing it again.
void update_logit_grid(AppState& state, const std::shared_ptr<const PipelineResult>& result,
                       const MatrixWindow& window, std::int64_t texels) {
  const ViewState& view = state.view;
  HeatmapPanelState& panel = state.heatmap;
  const GridKey key{result->generation, view.layer, view.head, static_cast<int>(view.quantity),
                    static_cast<int>(view.reduce), window.row_begin, window.row_end, window.col_begin,
                    window.col_end, texels, texels};
  panel.logit_wanted = key;
  if (panel.logit_scale != view.scale && panel.logit_error.empty() && !panel.logits.values.empty()) {
    panel.logit_scale = view.scale;
    panel.logit_texture.upload(logit_display_values(panel.logits, view.scale, shows_probabilities(panel.logit_key)),
                               panel.logits.width, panel.logits.height);
  }
  if (key == panel.logit_key) return;
  if (!panel.logit_job) panel.logit_job = std::make_unique<LogitGridJob>(state.wake);
  if (auto finished = panel.logit_job->take_finished()) show_logit_grid(panel, std::move(*finished), view.scale);
  if (key == panel.logit_key) return;
  LogitGridOptions options;
  options.samples_per_pixel = logit_samples_per_pixel(texels * texels);
  const LogitViewRequest request{view.layer, view.head, window, texels, texels, view.reduce,
                                 view.quantity == HeatmapQuantity::Probabilities};
  const std::int64_t cpu_cost = logit_view_cpu_cost(*result, request, options);
  if (state.deterministic || (cpu_cost >= 0 && cpu_cost <= kLogitMultiplyAddsPerFrame)) {
    FinishedLogitGrid now{key, {}, {}};
    try {
      now.grid = compute_logit_grid(*result, request, options);
    } catch (const std::exception& error) {
      now.error = error.what();
    }
    show_logit_grid(panel, std::move(now), view.scale);
    return;
  }
  panel.logit_job->request({key, result, request, options});
}

void update_beta_strip(AppState& state, const PipelineResult& result, const MatrixWindow& window, std::int64_t texels) {
  const ViewState& view = state.view;
  const std::int64_t bias_head = result.bias_head_of(view.head);
  const GridKey key{result.generation, view.layer, bias_head, 0, static_cast<int>(view.reduce), 0, 0,
                    window.col_begin, window.col_end, texels, 1};
  HeatmapPanelState& panel = state.heatmap;
  if (key == panel.beta_key && !panel.beta_strip.empty()) return;
  panel.beta_key = key;
  const auto beta = result.beta(view.layer, bias_head);
  const auto strip = reduce_keys_to_strip(beta, window.col_begin, window.col_end, texels, view.reduce);
  // The colour range is the head's whole β, not the visible pixels': a colour means the same β at every zoom and
  // window size, and the labels are values of β, not of pixel means.
  const auto [low, high] = std::minmax_element(beta.begin(), beta.end());
  panel.beta_low = beta.empty() ? 0.0f : *low;
  panel.beta_high = beta.empty() ? 1.0f : *high;
  panel.beta_strip.upload(strip, texels, 1);
}

// Index ticks, or one token label per cell once cells are tall (wide) enough for text.
void draw_axes(const AppState& state, const PipelineResult& result, ImVec2 origin, float side,
               const MatrixWindow& window, float left_margin) {
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), faint = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const float line = ImGui::GetTextLineHeight();
  const std::int64_t L = result.length();
  // Keys across the top.
  if (token_labels_fit(window.col_begin, window.col_end, side, line * 1.6f)) {
    const double cell = side / window.cols();
    for (std::int64_t j = std::max<std::int64_t>(0, static_cast<std::int64_t>(window.col_begin));
         j < std::min<std::int64_t>(L, static_cast<std::int64_t>(std::ceil(window.col_end))); ++j) {
      const float x0 = origin.x + static_cast<float>((j - window.col_begin) * cell);
      const std::string label = result.token_label(j);
      const float width = ImGui::CalcTextSize(label.c_str()).x;
      const ImVec2 at(x0 + std::max(0.0f, (static_cast<float>(cell) - width) / 2), origin.y - line - 2);
      const ImVec4 clip(std::max(x0, origin.x), at.y, std::min(x0 + static_cast<float>(cell), origin.x + side),
                        origin.y);
      draw_list->AddText(nullptr, 0.0f, at, text, label.c_str(), nullptr, 0.0f, &clip);
    }
  } else {
    for (const AxisTick& tick : axis_ticks(window.col_begin, window.col_end, side, L, line * 4.5f)) {
      const float x = origin.x + static_cast<float>(tick.pixel);
      const std::string label = fmt::format("{}", tick.index);
      draw_list->AddLine(ImVec2(x, origin.y - 4), ImVec2(x, origin.y), faint);
      draw_list->AddText(ImVec2(x - ImGui::CalcTextSize(label.c_str()).x / 2, origin.y - line - 4), faint,
                         label.c_str());
    }
  }
  // Queries down the left.
  if (token_labels_fit(window.row_begin, window.row_end, side, line)) {
    const double cell = side / window.rows();
    for (std::int64_t i = std::max<std::int64_t>(0, static_cast<std::int64_t>(window.row_begin));
         i < std::min<std::int64_t>(L, static_cast<std::int64_t>(std::ceil(window.row_end))); ++i) {
      const float y0 = origin.y + static_cast<float>((i - window.row_begin) * cell);
      const std::string label = fmt::format("{} {}", result.token_label(i), i);
      const float width = ImGui::CalcTextSize(label.c_str()).x;
      const ImVec2 at(origin.x - 4 - width, y0 + (static_cast<float>(cell) - line) / 2);
      const ImVec4 clip(origin.x - left_margin, std::max(y0, origin.y), origin.x - 2,
                        std::min(y0 + static_cast<float>(cell), origin.y + side));
      draw_list->AddText(nullptr, 0.0f, at, text, label.c_str(), nullptr, 0.0f, &clip);
    }
  } else {
    for (const AxisTick& tick : axis_ticks(window.row_begin, window.row_end, side, L, line * 2.0f)) {
      const float y = origin.y + static_cast<float>(tick.pixel);
      const std::string label = fmt::format("{}", tick.index);
      draw_list->AddLine(ImVec2(origin.x - 4, y), ImVec2(origin.x, y), faint);
      draw_list->AddText(ImVec2(origin.x - 6 - ImGui::CalcTextSize(label.c_str()).x, y - line / 2), faint,
                         label.c_str());
    }
  }
  draw_list->AddText(ImVec2(origin.x - left_margin, origin.y - line - 4), faint, "q↓ k→");
}

// The logit and probability of one entry, kept while the mouse rests on it (on the GPU it is two small launches).
const LogitCell* hovered_cell(const AppState& state, const PipelineResult& result, std::int64_t i, std::int64_t j) {
  const HeatmapPanelState& panel = state.heatmap;
  const ViewState& view = state.view;
  const std::array<std::int64_t, 5> key{static_cast<std::int64_t>(result.generation), view.layer, view.head, i, j};
  if (!panel.hovered || panel.hovered_key != key) {
    panel.hovered_key = key;
    panel.hovered.reset();
    try {
      panel.hovered = logit_cell(result, view.layer, view.head, i, j);
    } catch (const std::exception&) {
      return nullptr;  // the picture already says why there are no logits
    }
  }
  return &*panel.hovered;
}

// values_view: the logits or probabilities view, with q/k to compute them from.
void draw_tooltip(const AppState& state, const PipelineResult& result, ImVec2 origin, float side,
                  const MatrixWindow& window, bool values_view) {
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const double x = mouse.x - origin.x, y = mouse.y - origin.y;
  const auto cell = cell_at_point(window, result.length(), side, side, x, y);
  if (!cell) return;
  const ViewState& view = state.view;
  const std::int64_t bias_head = result.bias_head_of(view.head);
  const auto death = result.death(view.layer, bias_head);
  const std::int64_t i = cell->query, j = cell->key;
  ImGui::BeginTooltip();
  ImGui::Text("query %lld  %s", static_cast<long long>(i), result.token_label(i).c_str());
  ImGui::Text("key   %lld  %s", static_cast<long long>(j), result.token_label(j).c_str());
  if (j > i) {
    ImGui::TextDisabled("above the diagonal: not allowed (causal)");
  } else {
    ImGui::Text("kept: %s", dma_keeps(death, i, j) ? "yes" : "no");
  }
  if (result.ties_at_cut(view.layer, bias_head).row_is_tied(i))
    ImGui::TextColored(ImVec4(0.9f, 0.78f, 0.35f, 1.0f),
                       "row %lld: its cut is on a tie (w-th and (w+1)-th key equal in β; the lower index is kept)",
                       static_cast<long long>(i));
  const std::int32_t death_index = death[static_cast<std::size_t>(j)];
  if (death_index == j)
    ImGui::Text("key %lld: death index %d (never kept)", static_cast<long long>(j), death_index);
  else
    ImGui::Text("key %lld: death index %d (kept on rows %lld..%d)", static_cast<long long>(j), death_index,
                static_cast<long long>(j), death_index - 1);
  ImGui::Text("β[%lld] = %.5g", static_cast<long long>(j), result.beta(view.layer, bias_head)[j]);
  ImGui::TextDisabled("%s", beta_pipeline_text(result, view.layer, bias_head, j).c_str());
  ImGui::TextDisabled("%s", beta_rank_text(result, view.layer, bias_head, j).c_str());
  if (values_view && j <= i) {
    if (!dma_keeps(death, i, j)) {
      ImGui::Text("logit S(%lld, %lld): masked (−∞ to the softmax, p = 0)", static_cast<long long>(i),
                  static_cast<long long>(j));
    } else if (const LogitCell* cell = hovered_cell(state, result, i, j)) {
      ImGui::Text("logit S(%lld, %lld) = q·k/√d + β = %.5g", static_cast<long long>(i), static_cast<long long>(j),
                  cell->logit);
      ImGui::Text("p(%lld, %lld) = %.5g", static_cast<long long>(i), static_cast<long long>(j), cell->probability);
    }
  }
  // The pixel's reduced value when it covers more than one cell.
  const HeatmapPanelState& panel = state.heatmap;
  if (values_view) {
    const LogitGrid& grid = panel.logits;
    if (window.cols() / side <= 1.0 || panel.logit_key != panel.logit_wanted || grid.values.empty()) {
      ImGui::EndTooltip();
      return;
    }
    const auto px = std::clamp<std::int64_t>(static_cast<std::int64_t>(x / side * grid.width), 0, grid.width - 1);
    const auto py = std::clamp<std::int64_t>(static_cast<std::int64_t>(y / side * grid.height), 0, grid.height - 1);
    const std::size_t p = static_cast<std::size_t>(py * grid.width + px);
    const CellRange rows = cells_of_pixel(window.row_begin, window.row_end, grid.height, py, result.length());
    const CellRange cols = cells_of_pixel(window.col_begin, window.col_end, grid.width, px, result.length());
    const std::string where = fmt::format("pixel: rows {}..{} × keys {}..{}", rows.begin, rows.end - 1, cols.begin,
                                          cols.end - 1);
    if (grid.coverage[p] == LogitPixel::Value)
      ImGui::TextDisabled("%s, %s %s of kept entries%s %.4g", where.c_str(),
                          std::string(reduce_mode_name(view.reduce)).c_str(),
                          shows_probabilities(panel.logit_key) ? "probability" : "logit",
                          grid.sampled ? " (sampled)" : "", grid.values[p]);
    else if (grid.coverage[p] == LogitPixel::AllMasked)
      ImGui::TextDisabled("%s: every allowed entry masked", where.c_str());
    ImGui::EndTooltip();
    return;
  }
  const std::int64_t texels = panel.matrix.width();
  const auto px = std::clamp<std::int64_t>(static_cast<std::int64_t>(x / side * texels), 0, texels - 1);
  const auto py = std::clamp<std::int64_t>(static_cast<std::int64_t>(y / side * texels), 0, texels - 1);
  if (window.cols() / side > 1.0 && !panel.matrix_values.empty()) {
    const float value = panel.matrix_values[static_cast<std::size_t>(py * texels + px)];
    const CellRange rows = cells_of_pixel(window.row_begin, window.row_end, texels, py, result.length());
    const CellRange cols = cells_of_pixel(window.col_begin, window.col_end, texels, px, result.length());
    if (value >= 0)
      ImGui::TextDisabled("pixel: rows %lld..%lld × keys %lld..%lld, %s %.4g", static_cast<long long>(rows.begin),
                          static_cast<long long>(rows.end - 1), static_cast<long long>(cols.begin),
                          static_cast<long long>(cols.end - 1), std::string(reduce_mode_name(view.reduce)).c_str(),
                          value);
  }
  ImGui::EndTooltip();
}

void handle_mouse(AppState& state, std::int64_t length, ImVec2 origin, float side) {
  ImGuiIO& io = ImGui::GetIO();
  ViewState& view = state.view;
  if (ImGui::IsItemHovered() && io.MouseWheel != 0.0f) {
    const double anchor_x = (io.MousePos.x - origin.x) / side, anchor_y = (io.MousePos.y - origin.y) / side;
    view.zoom_pan = zoom_about(view.zoom_pan, length, side, std::pow(kWheelZoomStep, io.MouseWheel), anchor_x, anchor_y);
  }
  if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 0.0f))
    view.zoom_pan = pan_by_pixels(view.zoom_pan, length, side, io.MouseDelta.x, io.MouseDelta.y);
  if (ImGui::IsItemHovered() && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) view.zoom_pan = whole_matrix(length);
}


// Where the picture and what is under it go in the panel's remaining space.
struct HeatmapGeometry {
  ImVec2 cursor, origin;  // the content's top left; the matrix's top left
  float side = 0, left_margin = 0, line = 0, strip_height = 0, colorbar_height = 0;
  ImVec2 strip_origin() const { return ImVec2(origin.x, origin.y + side + 6); }
  ImVec2 bar_origin() const { return ImVec2(origin.x, strip_origin().y + strip_height + line + 8); }
  float label_y() const { return bar_origin().y + colorbar_height + 2; }
};

HeatmapGeometry heatmap_geometry() {
  HeatmapGeometry g;
  g.line = ImGui::GetTextLineHeight();
  const float scale = ImGui::GetFontSize() / 15.0f;
  g.left_margin = std::floor(90 * scale);
  const float top_margin = std::floor(g.line + 10);
  g.strip_height = std::floor(14 * scale);
  g.colorbar_height = std::floor(10 * scale);
  // β strip and its labels, the colour bar and its labels, the title, one line of legend and notes.
  const float below = g.strip_height + g.colorbar_height + 5 * g.line + 22;
  g.cursor = ImGui::GetCursorScreenPos();
  const ImVec2 available = ImGui::GetContentRegionAvail();
  g.side = std::floor(std::min(available.x - g.left_margin - 8, available.y - top_margin - below));
  g.origin = ImVec2(std::floor(g.cursor.x + g.left_margin), std::floor(g.cursor.y + top_margin));
  return g;
}

// The matrix itself: the mask grid, or the logits or probabilities (or why there are none).
void draw_matrix_picture(AppState& state, const HeatmapGeometry& g, const MatrixWindow& window, bool logits_view,
                         const std::string& logits_missing) {
  const HeatmapPanelState& panel = state.heatmap;
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const ImVec2 origin = g.origin, corner(origin.x + g.side, origin.y + g.side);
  const ImU32 above_diagonal = IM_COL32(kAboveDiagonalColor[0], kAboveDiagonalColor[1], kAboveDiagonalColor[2], 255);
  if (logits_view && !logits_missing.empty()) {
    // Nothing to colour: say why where the picture would be.
    draw_list->AddRectFilled(origin, corner, above_diagonal);
    ImGui::SetCursorScreenPos(ImVec2(origin.x + 12, origin.y + 12));
    ImGui::PushTextWrapPos(origin.x + g.side - 12);
    ImGui::TextUnformatted(logits_missing.c_str());
    ImGui::PopTextWrapPos();
  } else if (logits_view) {
    // The grid is drawn where its own window lies in this view: while the worker reduces the window of a pan or zoom,
    // the previous grid moves with the content (uncovered parts stay blank) instead of sliding under the axes.
    const GridKey& shown = panel.logit_key;
    const double x_scale = g.side / window.cols(), y_scale = g.side / window.rows();
    const ImVec2 at(origin.x + static_cast<float>((shown.col_begin - window.col_begin) * x_scale),
                    origin.y + static_cast<float>((shown.row_begin - window.row_begin) * y_scale));
    const ImVec2 size(static_cast<float>((shown.col_end - shown.col_begin) * x_scale),
                      static_cast<float>((shown.row_end - shown.row_begin) * y_scale));
    draw_list->PushClipRect(origin, corner, true);
    if (shown != panel.logit_wanted) draw_list->AddRectFilled(origin, corner, above_diagonal);
    state.renderer->draw(draw_list, panel.logit_texture, at, size, logit_style(state));
    draw_list->PopClipRect();
  } else {
    state.renderer->draw(draw_list, panel.matrix, origin, ImVec2(g.side, g.side),
                         value_style(state, 0.0f, panel.matrix_high, 1e-3f));
  }
  draw_list->AddRect(ImVec2(origin.x - 1, origin.y - 1), ImVec2(corner.x + 1, corner.y + 1),
                     ImGui::GetColorU32(ImGuiCol_Border));
}

// A short red bar at (death index, key) for each key whose kept run ends inside the view: the bars trace where the
// yellow columns stop, and every cell of a column above its bar (and on or below the diagonal) is kept.
void draw_death_indices(const PipelineResult& result, const ViewState& view, const HeatmapGeometry& g,
                        const MatrixWindow& window) {
  constexpr double kMaxKeysPerPixel = 4;  // more and the bars merge into a band that says nothing
  if (window.cols() > kMaxKeysPerPixel * g.side) return;
  const auto death = result.death(view.layer, result.bias_head_of(view.head));
  const std::int64_t L = result.length();
  const double cell = g.side / window.cols();
  const float thickness = static_cast<float>(std::clamp(cell * 0.6, 3.0, 6.0));  // visible at 1 px per key too
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  draw_list->PushClipRect(g.origin, ImVec2(g.origin.x + g.side, g.origin.y + g.side), true);
  const auto first = std::max<std::int64_t>(0, static_cast<std::int64_t>(window.col_begin));
  const auto last = std::min<std::int64_t>(L, static_cast<std::int64_t>(std::ceil(window.col_end)));
  for (std::int64_t j = first; j < last; ++j) {
    const std::int64_t dies = death[static_cast<std::size_t>(j)];
    if (dies >= L || dies <= j || dies < window.row_begin || dies > window.row_end) continue;
    const float x0 = g.origin.x + static_cast<float>((j - window.col_begin) * cell);
    const float y = g.origin.y + static_cast<float>((dies - window.row_begin) * cell);
    draw_list->AddRectFilled(ImVec2(x0, y - thickness / 2), ImVec2(x0 + std::max(static_cast<float>(cell), 3.0f),
                                                                   y + thickness / 2),
                             IM_COL32(255, 40, 90, 255));
  }
  draw_list->PopClipRect();
}

// β per key, under the columns it belongs to, coloured over the head's whole range of β.
void draw_beta_strip(AppState& state, const HeatmapGeometry& g) {
  const ViewState& view = state.view;
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const ImVec2 strip_origin = g.strip_origin();
  GridStyle beta_style = value_style(state, state.heatmap.beta_low, state.heatmap.beta_high, 1e-3f);
  if (view.scale == ColorScale::Log) beta_style.low = std::max(state.heatmap.beta_low, 1e-30f);
  state.renderer->draw(draw_list, state.heatmap.beta_strip, strip_origin, ImVec2(g.side, g.strip_height), beta_style);
  const ImU32 faint = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  draw_list->AddText(ImVec2(g.origin.x - g.left_margin, strip_origin.y + (g.strip_height - g.line) / 2), faint,
                     "β per key");
  const std::string beta_range =
      fmt::format("β of this head: {:.3g} … {:.3g} ({}, {} of a pixel's keys)", state.heatmap.beta_low,
                  state.heatmap.beta_high, view.scale == ColorScale::Log ? "log" : "linear",
                  reduce_mode_name(view.reduce));
  const ImVec2 label_at(g.origin.x, strip_origin.y + g.strip_height + 2);
  draw_list->AddText(label_at, faint, beta_range.c_str());
  note_drawn_text(state.layout, draw_list, label_at, beta_range);
  note_region(state.layout, TourHighlight::BetaStrip, ImVec2(g.origin.x - g.left_margin, strip_origin.y),
              ImVec2(g.origin.x + g.side, label_at.y + g.line));
}

// The colour bar of the matrix's mapping with its end labels, the logits' hatch legend and the title line.
void draw_colorbar_and_title(AppState& state, const PipelineResult& result, const HeatmapGeometry& g, bool probs,
                             bool logits_view, std::int64_t texels) {
  const ViewState& view = state.view;
  const HeatmapPanelState& panel = state.heatmap;
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  if (panel.colorbar.empty()) {
    std::vector<float> ramp(256);
    for (int n = 0; n < 256; ++n) ramp[n] = static_cast<float>(n) / 255.0f;
    state.heatmap.colorbar.upload(ramp, 256, 1);
  }
  const ImVec2 bar_origin = g.bar_origin();
  GridStyle ramp_style;
  ramp_style.table = &colormap_table(view.colormap);
  state.renderer->draw(draw_list, panel.colorbar, bar_origin, ImVec2(g.side, g.colorbar_height), ramp_style);
  const GridStyle matrix_style = value_style(state, 0.0f, panel.matrix_high, 1e-3f);
  std::string what = fmt::format("kept fraction ({}{})", reduce_mode_name(view.reduce),
                                 panel.matrix_reduced_on == "GPU" ? ", reduced on the GPU" : "");
  std::string low = fmt::format("{:.3g}", matrix_style.low), high = fmt::format("{:.3g}", matrix_style.high);
  if (logits_view) {
    const LogitGrid& grid = panel.logits;
    const std::string sampled =
        grid.sampled ? fmt::format(", sampled ≤{}/px", logit_samples_per_pixel(texels * texels)) : std::string();
    if (probs) {
      what = fmt::format("attention probability ({}{}, {})", reduce_mode_name(view.reduce), sampled,
                         logit_view_device(result));
      const GridStyle style = logit_style(state);
      low = fmt::format("{:.3g}", view.scale == ColorScale::Log ? style.low : 0.0f);
      high = fmt::format("{:.3g}", grid.high);
    } else {
      what = fmt::format("logit q·k/√d+β ({}{}, {})", reduce_mode_name(view.reduce), sampled,
                         logit_view_device(result));
      low = fmt::format("{:.3g}", grid.low);
      high = fmt::format("{:.3g}", grid.high);
    }
  }
  const ImU32 faint = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const float label_y = g.label_y();
  draw_list->AddText(ImVec2(bar_origin.x, label_y), faint, low.c_str());
  draw_list->AddText(ImVec2(bar_origin.x + g.side - ImGui::CalcTextSize(high.c_str()).x, label_y), faint, high.c_str());
  if (logits_view) {  // the hatch's legend, centred under the bar
    const char* masked = "masked";
    const float swatch = g.line * 0.8f, text_width = ImGui::CalcTextSize(masked).x;
    const ImVec2 at(std::floor(bar_origin.x + (g.side - swatch - 4 - text_width) / 2), label_y);
    draw_list->AddRectFilled(ImVec2(at.x, at.y + 2), ImVec2(at.x + swatch, at.y + 2 + swatch),
                             IM_COL32(kMaskedColor[0], kMaskedColor[1], kMaskedColor[2], 255));
    for (float stripe = 4; stripe < 2 * swatch; stripe += 8)  // a few dark stripes, as in the picture
      draw_list->AddLine(ImVec2(at.x + std::max(0.0f, stripe - swatch), at.y + 2 + std::min(stripe, swatch)),
                         ImVec2(at.x + std::min(stripe, swatch), at.y + 2 + std::max(0.0f, stripe - swatch)),
                         IM_COL32(kAboveDiagonalColor[0], kAboveDiagonalColor[1], kAboveDiagonalColor[2], 255), 3.0f);
    draw_list->AddText(ImVec2(at.x + swatch + 4, label_y), faint, masked);
  }
  // The logits title leaves out the bias head (the tooltip has it): with "sampled" it would not fit the picture.
  const std::string title =
      logits_view ? fmt::format("{} · {} · layer {} head {} · {:.3g}× zoom", what,
                                view.scale == ColorScale::Log ? "log" : "linear", view.layer, view.head,
                                view.zoom_pan.zoom)
                  : fmt::format("{} · {} · layer {} head {} (mask of bias head {}) · {:.3g}× zoom", what,
                                view.scale == ColorScale::Log ? "log" : "linear", view.layer, view.head,
                                result.bias_head_of(view.head), view.zoom_pan.zoom);
  // Moved left, as far as the panel's left margin, when it would run past the panel's right edge.
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  const float title_x =
      std::max(g.origin.x - g.left_margin, std::min(bar_origin.x, right - ImGui::CalcTextSize(title.c_str()).x));
  const ImVec2 title_at(title_x, label_y + g.line + 2);
  draw_list->AddText(title_at, ImGui::GetColorU32(ImGuiCol_Text), title.c_str());
  note_drawn_text(state.layout, draw_list, title_at, title);
}

// The β pipeline of the key of highest β in view, and its rank, on two lines at `at`, with a mark on its column of
// the β strip: the tour's β step shows where β comes from without a mouse.
void draw_beta_pipeline(AppState& state, const PipelineResult& result, const HeatmapGeometry& g,
                        const MatrixWindow& window, ImVec2 at) {
  const std::int64_t bias_head = result.bias_head_of(state.view.head);
  const auto beta = result.beta(state.view.layer, bias_head);
  const auto first = std::max<std::int64_t>(0, static_cast<std::int64_t>(window.col_begin));
  const auto last = std::min<std::int64_t>(result.length(), static_cast<std::int64_t>(std::ceil(window.col_end)));
  if (first >= last) return;
  std::int64_t key = first;
  for (std::int64_t j = first; j < last; ++j)
    if (beta[static_cast<std::size_t>(j)] > beta[static_cast<std::size_t>(key)]) key = j;
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  const std::string pipeline = beta_pipeline_text(result, state.view.layer, bias_head, key);
  const std::string rank = beta_rank_text(result, state.view.layer, bias_head, key);
  draw_list->AddText(at, text, pipeline.c_str());
  draw_list->AddText(ImVec2(at.x, at.y + g.line + 2), text, rank.c_str());
  note_drawn_text(state.layout, draw_list, at, pipeline);
  note_drawn_text(state.layout, draw_list, ImVec2(at.x, at.y + g.line + 2), rank);
  const float x = g.origin.x + static_cast<float>((key + 0.5 - window.col_begin) * g.side / window.cols());
  const ImVec2 strip = g.strip_origin();
  draw_list->AddTriangleFilled(ImVec2(x, strip.y + g.strip_height + 1), ImVec2(x - 6, strip.y + g.strip_height + 9),
                               ImVec2(x + 6, strip.y + g.strip_height + 9), IM_COL32(255, 190, 40, 255));
  note_region(state.layout, TourHighlight::BetaStrip, at, ImVec2(at.x + ImGui::CalcTextSize(pipeline.c_str()).x,
                                                                 at.y + 2 * g.line + 2));
}

// One line under the title: the answer markers' legend, and what could surprise in this picture — a window that
// keeps every key, a max reduction that paints a sparse mask solid — with the honest alternative.
void draw_legend_and_notes(AppState& state, const PipelineResult& result, const HeatmapGeometry& g,
                           const MatrixWindow& window, bool logits_view) {
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const ImVec2 at(g.origin.x - g.left_margin, g.label_y() + 2 * g.line + 6);
  if (presenter_highlight(state) == TourHighlight::BetaStrip) {
    draw_beta_pipeline(state, result, g, window, at);
    return;
  }
  float x = at.x;
  if (const float width = draw_answer_legend(result, draw_list, at); width > 0) {
    note_region(state.layout, TourHighlight::Answers, at, ImVec2(at.x + width, at.y + g.line));
    x += width + 8;
  }
  const std::int64_t L = result.length(), w = result.forward.window;
  std::string note;
  if (w >= L)
    note = fmt::format("w = {} ≥ L = {}: every row keeps all its keys, the mask is the whole causal triangle", w, L);
  else if (!logits_view && state.view.reduce == ReduceMode::Max && window.cols() > g.side)
    note = fmt::format("max: a pixel is lit if any of its ~{:.0f}×{:.0f} cells is kept", window.cols() / g.side,
                       window.rows() / g.side);
  if (note.empty()) return;
  const ImU32 warn = IM_COL32(255, 200, 90, 255);
  const float button_width = state.view.reduce == ReduceMode::Max && w < L
                                 ? ImGui::CalcTextSize("show mean").x + 2 * ImGui::GetStyle().FramePadding.x + 8
                                 : 0;
  if (x + ImGui::CalcTextSize(note.c_str()).x + button_width > g.origin.x + g.side) x = at.x;  // alone on its line
  const ImVec2 note_at(x, result.answers && x == at.x ? at.y + g.line + 2 : at.y);
  draw_list->AddText(note_at, warn, note.c_str());
  note_drawn_text(state.layout, draw_list, note_at, note);
  if (button_width > 0) {
    ImGui::SetCursorScreenPos(ImVec2(note_at.x + ImGui::CalcTextSize(note.c_str()).x + 8, note_at.y - 2));
    if (ImGui::SmallButton("show mean")) state.view.reduce = ReduceMode::Mean;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("mean: a pixel shows the share of its cells that are kept");
  }
}

// Badges over the picture's corners: the logits still being reduced, the whole picture waiting for new settings.
void draw_badges(const AppState& state, const HeatmapGeometry& g, bool computing_logits) {
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  if (computing_logits) {
    const char* badge = state.view.quantity == HeatmapQuantity::Probabilities ? "computing probabilities…"
                                                                                : "computing logits…";
    const ImVec2 size = ImGui::CalcTextSize(badge);
    const ImVec2 at(g.origin.x + g.side - size.x - 12, g.origin.y);
    draw_list->AddRectFilled(at, ImVec2(g.origin.x + g.side, g.origin.y + size.y + 8), IM_COL32(30, 60, 120, 230));
    draw_list->AddText(ImVec2(at.x + 6, at.y + 4), IM_COL32(255, 255, 255, 255), badge);
  }
  if (state.pipeline.result_is_stale()) draw_stale_badge(draw_list, g.origin);
}

void record_layout(AppState& state, const PipelineResult& result, const HeatmapGeometry& g,
                   const MatrixWindow& window) {
  const ImVec2 framebuffer_scale = ImGui::GetIO().DisplayFramebufferScale;
  FrameLayout& layout = state.layout;
  layout.heatmap_drawn = true;
  layout.heatmap_x = g.origin.x * framebuffer_scale.x;
  layout.heatmap_y = g.origin.y * framebuffer_scale.y;
  layout.heatmap_side = g.side * framebuffer_scale.x;
  layout.font_pixels = ImGui::GetFontSize() * framebuffer_scale.x;
  layout.window = window;
  layout.length = result.length();
  layout.layer = state.view.layer;
  layout.head = state.view.head;
  layout.bias_head = result.bias_head_of(state.view.head);
  note_region(layout, TourHighlight::DeathIndices, g.origin, ImVec2(g.origin.x + g.side, g.origin.y + g.side));
}

}  // namespace

void draw_heatmap_panel(AppState& state) {
  place_panel(PanelSlot::Heatmap);
  if (!ImGui::Begin("Heatmap")) {
    ImGui::End();
    return;
  }
  state.layout.heatmap_drawn = false;
  const auto result = state.pipeline.result();
  if (!result) {
    const PipelineStatus status = state.pipeline.status();
    ImGui::TextDisabled("%s", status.running     ? "computing the first result…"
                              : status.cancelled ? "cancelled: F5 (or recompute) starts again"
                              : !status.error.empty() ? "no result: see the error in the status bar"
                                                      : "no result yet");
    ImGui::End();
    return;
  }
  // Presenting, the controls give their room to the picture: the step sets the view, the title line says it.
  if (!state.presenter.active) draw_toolbar(state, *result);
  const HeatmapGeometry g = heatmap_geometry();
  if (g.side < 32) {
    ImGui::TextDisabled("(enlarge the window to see the heatmap)");
    ImGui::End();
    return;
  }
  const std::int64_t L = result->length();
  ViewState& view = state.view;
  view.zoom_pan = clamp_zoom_pan(view.zoom_pan, L, g.side);
  const MatrixWindow window = visible_window(view.zoom_pan, L);
  const auto texels = static_cast<std::int64_t>(g.side * ImGui::GetIO().DisplayFramebufferScale.x);

  // logits_view: the logits or the probabilities, both grids of the same worker (logit_view.h).
  const bool logits_view = view.quantity != HeatmapQuantity::Mask;
  const bool probs = view.quantity == HeatmapQuantity::Probabilities;
  std::string logits_missing;
  if (logits_view) logits_missing = logit_view_missing(*result, view.layer, view.head);
  const bool values = logits_view && logits_missing.empty();
  if (values) update_logit_grid(state, result, window, texels);
  else if (!logits_view) update_matrix_grid(state, *result, window, texels);
  update_beta_strip(state, *result, window, texels);
  if (!logits_view) update_dropped_mass(state, result, window, texels);
  const HeatmapPanelState& panel = state.heatmap;
  if (values && panel.logit_error.empty() && panel.logit_key.generation == 0)
    logits_missing = probs ? "computing probabilities…" : "computing logits…";
  if (values && !panel.logit_error.empty()) logits_missing = panel.logit_error;

  draw_matrix_picture(state, g, window, logits_view, logits_missing);
  if (!logits_view) draw_dropped_mass_overlay(state, g.origin, g.side);
  draw_axes(state, *result, g.origin, g.side, window, g.left_margin);
  if (state.heatmap.show_death_indices || presenter_highlight(state) == TourHighlight::DeathIndices)
    draw_death_indices(*result, view, g, window);
  draw_answer_markers(state, *result, ImGui::GetWindowDrawList(), g.origin, g.side, window);
  draw_beta_strip(state, g);
  draw_colorbar_and_title(state, *result, g, probs, logits_view, texels);
  draw_legend_and_notes(state, *result, g, window, logits_view);
  draw_badges(state, g, values && panel.logit_key != panel.logit_wanted && panel.logit_key.generation != 0);

  // Interaction over the matrix.
  ImGui::SetCursorScreenPos(g.origin);
  ImGui::InvisibleButton("heatmap_area", ImVec2(g.side, g.side));
  handle_mouse(state, L, g.origin, g.side);
  if (ImGui::IsItemHovered() && !ImGui::IsItemActive())
    draw_tooltip(state, *result, g.origin, g.side, window, values && logits_missing.empty());
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  // A right click on the matrix opens the β pipeline of the key (column) under it.
  if (ImGui::IsItemHovered() && ImGui::IsMouseClicked(ImGuiMouseButton_Right))
    if (const auto cell = cell_at_point(window, L, g.side, g.side, mouse.x - g.origin.x, mouse.y - g.origin.y))
      state.beta_window = {true, cell->key, false};
  // A click on the β strip does the same for the key under it.
  ImGui::SetCursorScreenPos(g.strip_origin());
  if (ImGui::InvisibleButton("beta_strip_area", ImVec2(g.side, g.strip_height))) {
    const double column = window.col_begin + (mouse.x - g.origin.x) / g.side * window.cols();
    const auto key = static_cast<std::int64_t>(std::floor(column));
    if (key >= 0 && key < L) state.beta_window = {true, key, false};
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("click: this key's \xce\xb2 pipeline");
  ImGui::SetCursorScreenPos(ImVec2(g.cursor.x, g.label_y() + 3 * g.line + 8));
  ImGui::Dummy(ImVec2(1, 1));
  record_layout(state, *result, g, window);
  ImGui::End();
}

}  // namespace dmascope::gui
