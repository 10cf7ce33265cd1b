// The Timing panel: for the current layer, DMA (mask build + masked kernel) against our dense kernel and the
// materialized baseline, with executed and useful TFLOP/s, the measured and the ideal speedup; and sweeps over L and
// over w as line charts. Everything is measured on the pipeline's worker; this file only draws. CPU timings say so.
#include <imgui.h>

#include <fmt/format.h>

#include <filesystem>

#include "app/gui/engine_vocabulary.h"
#include "engine/timing/layer_timing.h"
#include "app/gui/render/line_chart.h"
#include "app/gui/render/number_format.h"
#include "app/gui/panels/panels.h"
#include "app/gui/panels/shown_text.h"
#include "core/attention/gathered_work.h"
#include "engine/timing/sweep_points.h"
#include "engine/timing/timing_csv.h"
#include "core/compute/timing_math.h"
#include "core/formats/atomic_write.h"
#include "core/base/error.h"

namespace dmascope::gui {

namespace {

// Timing starts by itself up to this length; longer runs (dense attention grows as L²) wait for the button.
constexpr std::int64_t kAutoTimingMaxLength = 4096;

constexpr ImU32 kDmaTotalColor = IM_COL32(0, 114, 178, 255);
constexpr ImU32 kDmaKernelColor = IM_COL32(86, 180, 233, 255);
constexpr ImU32 kDenseColor = IM_COL32(170, 170, 180, 255);
constexpr ImU32 kMaterializedColor = IM_COL32(230, 159, 0, 255);
const ImVec4 kErrorColor(1.0f, 0.45f, 0.35f, 1.0f);

double total_ms(const LayerTiming& timing) { return timing.dma_total_ms(); }

std::string format_tflops(double pairs, std::int64_t head_dim, double ms) {
  const double rate = attention_tflops_per_second(pairs, head_dim, ms);
  return rate > 0 ? fmt::format("{:.3g}", rate) : "—";
}

void export_csv(AppState& state, const char* what, const ExportName& name, const std::string& text) {
  export_file_action(state, what, name, [&](const std::filesystem::path& path) { write_file_atomically(path, text); });
}

// The work of DMA on this layer, all query heads, as the kernels do it (core/attention/gathered_work.h): what the
// measured speedup is to be compared with. Deterministic (from the mask alone), so screenshots show it too.
struct LayerWork {
  double token_density = 0, tile_density = 0, executed_fraction = 0, ideal_speedup = 0, mean_keys_per_tile = 0;
  std::int64_t tile_rows = 0, tile_cols = 0;  // the tile map's tiles (the view's choice)
  std::int64_t kernel_tile_rows = 0;           // the query tiles the DMA kernels gather keys for
  bool from_kernel = false;                    // gathered keys and executed pairs from the kernel's counters
};

// counters: the CUDA forward kernel's own counts of this layer (its instrumented run), or null for the CPU twin's count
// from the death indices.
LayerWork layer_work(const PipelineResult& result, std::int64_t layer, const KernelCounters* counters) {
  LayerWork work;
  work.from_kernel = counters != nullptr;
  double kept = 0, causal = 0, active_tiles = 0, causal_tiles = 0, executed = 0, dense = 0, keys = 0, tiles = 0;
  for (std::int64_t bias_head = 0; bias_head < result.bias_heads(); ++bias_head) {
    const TileMap& map = result.tile_map(layer, bias_head);
    const auto death = result.death(layer, bias_head);
    const GatheredWork gathered =
        counters ? gathered_work_from_counters(*counters, bias_head * (counters->q_heads / counters->bias_heads))
                 : kernel_gathered_work(death.data(), result.length());
    kept += static_cast<double>(map.kept_entries);
    causal += static_cast<double>(map.causal_entries);
    active_tiles += static_cast<double>(map.partial + map.full);
    causal_tiles += static_cast<double>(map.causal_tiles);
    executed += gathered.executed_pairs;
    dense += gathered.dense_pairs;
    keys += gathered.mean_keys_per_tile() * static_cast<double>(gathered.keys_per_tile.size());
    tiles += static_cast<double>(gathered.keys_per_tile.size());
    work.tile_rows = map.shape.rows;
    work.kernel_tile_rows = gathered.tile_rows;
    work.tile_cols = map.shape.cols;
  }
  work.token_density = causal > 0 ? kept / causal : 0;
  work.tile_density = causal_tiles > 0 ? active_tiles / causal_tiles : 0;
  work.executed_fraction = dense > 0 ? executed / dense : 0;
  work.ideal_speedup = executed > 0 ? dense / executed : 0;
  work.mean_keys_per_tile = tiles > 0 ? keys / tiles : 0;
  return work;
}

// Three lines that tell why DMA is faster: the kept share, the non-empty tiles' share (what a tile-skipping kernel
// would save), and the pairs the gathering kernel executes (what this one saves).
void draw_layer_work(AppState& state, const PipelineResult& result, std::int64_t layer) {
  const auto kernel = result.settings.backend == Backend::Cuda ? state.pipeline.kernel_tiles(layer) : nullptr;
  const bool counted = kernel && kernel->generation == result.generation && !kernel->counters.empty();
  const LayerWork work = layer_work(result, layer, counted ? &kernel->counters : nullptr);
  FrameLayout& layout = state.layout;
  const ImVec2 top = ImGui::GetCursorScreenPos();
  const std::string densities =
      fmt::format("token density {} · tile density {} (mean of the layer's heads, {}×{} tiles)",
                  format_percent(work.token_density), format_percent(work.tile_density), work.tile_rows,
                  work.tile_cols);
  ImGui::TextWrapped("%s", densities.c_str());
  note_item_text(layout, densities);
  const std::string gathered = fmt::format(
      "the kernels gather {:.0f} keys per {}-row query tile on average and execute {} of dense's (query, key) pairs{}",
      work.mean_keys_per_tile, work.kernel_tile_rows, format_percent(work.executed_fraction),
      work.from_kernel ? " (from the kernel's counters)" : "");
  ImGui::TextWrapped("%s", gathered.c_str());
  note_item_text(layout, gathered);
  const std::string ideal = fmt::format("ideal speedup {} = dense pairs / executed pairs (a tile-skipping kernel: {})",
                                        format_ratio(work.ideal_speedup),
                                        format_ratio(work.tile_density > 0 ? 1.0 / work.tile_density : 0));
  ImGui::TextWrapped("%s", ideal.c_str());
  note_item_text(layout, ideal);
  note_region(layout, TourHighlight::GatheredKeys, top, ImGui::GetItemRectMax());
}

void variant_row(const char* name, const TimedVariant& variant, const LayerTiming& timing, const std::string& speedup) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextUnformatted(name);
  if (!variant.measured) {
    ImGui::TableSetColumnIndex(1);
    ImGui::TextDisabled("skipped");
    if (!variant.skipped_why.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", variant.skipped_why.c_str());
    ImGui::TableSetColumnIndex(5);
    ImGui::TextDisabled("%s", variant.skipped_why.empty() ? "not timed" : "hover for why");
    return;
  }
  ImGui::TableSetColumnIndex(1);
  ImGui::TextUnformatted(format_ms(variant.median_ms).c_str());
  ImGui::TableSetColumnIndex(2);
  ImGui::TextDisabled("%s", format_ms(variant.spread_ms).c_str());
  ImGui::TableSetColumnIndex(3);
  ImGui::TextUnformatted(format_tflops(variant.executed_pairs, timing.head_dim, variant.median_ms).c_str());
  ImGui::TableSetColumnIndex(4);
  ImGui::TextUnformatted(format_tflops(variant.useful_pairs, timing.head_dim, variant.median_ms).c_str());
  ImGui::TableSetColumnIndex(5);
  ImGui::TextUnformatted(speedup.c_str());
}

// The speedup a kernel that pays per executed pair could reach: dense's executed pairs over DMA's.
double executed_pairs_ideal_speedup(const LayerTiming& timing) {
  return timing.dma.executed_pairs > 0 && timing.dense.executed_pairs > 0
             ? timing.dense.executed_pairs / timing.dma.executed_pairs
             : timing.ideal_speedup();
}

void draw_timing_table(AppState& state, const PipelineResult& result, const LayerTiming& timing) {
  ImGui::TextWrapped("%s timings · %s · median of %d, spread = max - min", timing.on_gpu ? "GPU" : "CPU",
                     timing.device.c_str(), timing.repeats);
  // ScrollX: a narrow panel scrolls the table instead of cutting its right-hand columns (speedup, TFLOP/s) off.
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_BordersInnerV |
                                ImGuiTableFlags_ScrollX;
  const float table_height = ImGui::GetTextLineHeightWithSpacing() * 6 + ImGui::GetStyle().ScrollbarSize + 8;
  if (ImGui::BeginTable("timing", 6, flags, ImVec2(0, table_height))) {
    ImGui::TableSetupColumn("variant");
    ImGui::TableSetupColumn("median");
    ImGui::TableSetupColumn("spread");
    ImGui::TableSetupColumn("exec TFLOP/s");
    ImGui::TableSetupColumn("useful TFLOP/s");
    ImGui::TableSetupColumn("speedup");
    ImGui::TableHeadersRow();
    const double total = timing.dma_total_ms();
    auto speedup = [&](const TimedVariant& v) { return v.measured && total > 0 ? format_ratio(v.median_ms / total) : "—"; };
    variant_row("mask build", timing.mask_build, timing, "");
    variant_row("DMA kernel", timing.dma, timing, "");
    variant_row("DMA incl. mask", timing.dma_incl_mask(), timing, "1×");
    variant_row("dense (ours)", timing.dense, timing, speedup(timing.dense));
    variant_row(timing.on_gpu ? "materialized (cuBLAS)" : "materialized (CPU ref.)", timing.materialized, timing,
                speedup(timing.materialized));
    ImGui::EndTable();
  }
  if (!timing.materialized.measured && !timing.materialized.skipped_why.empty())
    ImGui::TextWrapped("materialized skipped: %s", timing.materialized.skipped_why.c_str());
  const std::string measured = fmt::format("measured speedup vs dense {} · ideal {} (dense / DMA executed pairs)",
                                           timing.dense.measured && total_ms(timing) > 0 ? format_ratio(timing.speedup())
                                                                                          : std::string("—"),
                                           format_ratio(executed_pairs_ideal_speedup(timing)));
  ImGui::TextWrapped("%s", measured.c_str());
  note_item_text(state.layout, measured);
  ImGui::TextWrapped("as timed: token density %s · tile density %s (layer mean, %s)",
                     format_percent(timing.token_density).c_str(), format_percent(timing.tile_density).c_str(),
                     timing.on_gpu ? "the kernel's 64×64 tiles" : "the CPU kernel's tiles");
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("FLOPs = 4·d per (query, key) pair. Useful: kept pairs (DMA), causal pairs (dense, materialized). "
                     "Executed: the pairs the kernel computes (DMA: each query tile's rows × its gathered keys; dense: the causal "
                     "prefix of each tile; all L² for the materialized GEMMs). DMA incl. mask: the mask build and the "
                     "kernel timed together (on the GPU as one CUDA graph, as dmascope-cli bench times it). Speedup: that "
                     "variant's median / DMA incl. mask.");
  ImGui::PopStyleColor();
  if (ImGui::SmallButton("export CSV"))
    export_csv(state, "timing CSV", layer_timing_csv_name(result, timing), layer_timing_csv(timing));
}

void draw_current_layer(AppState& state, const PipelineResult& result, std::int64_t layer) {
  const auto timing = state.pipeline.timing(layer);
  const std::string error = state.pipeline.timing_error(layer);
  if (!timing && error.empty() && result.length() <= kAutoTimingMaxLength && !state.pipeline.result_is_stale())
    state.pipeline.request_timing(layer);
  if (state.pipeline.timing_running(layer)) {
    ImGui::TextDisabled("timing layer %lld…", static_cast<long long>(layer));
    ImGui::SameLine();
    if (ImGui::SmallButton("cancel")) state.pipeline.cancel();
  } else if (ImGui::SmallButton(timing || !error.empty() ? "time again" : "time this layer")) {
    state.pipeline.retry_timing(layer);
  }
  if (!error.empty()) ImGui::TextColored(kErrorColor, "timing: %s", error.c_str());
  if (timing) draw_timing_table(state, result, *timing);
}

std::vector<ChartSeries> sweep_series(const TimingSweep& sweep) {
  std::vector<ChartSeries> series = {{"DMA incl. mask", kDmaTotalColor, {}, {}},
                                     {"DMA kernel", kDmaKernelColor, {}, {}},
                                     {"dense", kDenseColor, {}, {}},
                                     {"materialized", kMaterializedColor, {}, {}}};
  for (std::size_t n = 0; n < sweep.timings.size(); ++n) {
    const LayerTiming& t = sweep.timings[n];
    const double x = static_cast<double>(sweep.points[n]);
    const TimedVariant* variants[] = {nullptr, &t.dma, &t.dense, &t.materialized};
    const TimedVariant total = t.dma_incl_mask();
    variants[0] = &total;
    for (std::size_t s = 0; s < series.size(); ++s) {
      series[s].x.push_back(x);
      series[s].y.push_back(variants[s]->measured ? variants[s]->median_ms : 0.0);
    }
  }
  return series;
}

// "L 128K failed: CUDA error …", one per failed point: drawn wrapped under the chart or the table, which show only
// where a point failed.
std::vector<std::string> failure_lines(const TimingSweep& sweep, const char* variable) {
  std::vector<std::string> lines;
  for (std::size_t n = 0; n < sweep.timings.size() && n < sweep.points.size(); ++n)
    if (sweep.timings[n].failed())
      lines.push_back(fmt::format("{} {} failed: {}", variable, token_count_label(sweep.points[n]),
                                  sweep.timings[n].failed_why));
  return lines;
}

float wrapped_lines_height(const std::vector<std::string>& lines) {
  const float width = ImGui::GetContentRegionAvail().x;
  float height = 0;
  for (const std::string& line : lines)
    height += ImGui::CalcTextSize(line.c_str(), nullptr, false, width).y + ImGui::GetStyle().ItemSpacing.y;
  return height;
}

void draw_wrapped_lines(const std::vector<std::string>& lines) {
  ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
  for (const std::string& line : lines) ImGui::TextWrapped("%s", line.c_str());
  ImGui::PopStyleColor();
}

// The sweep as numbers: one row per point; a failed point says so in its note (the reason on hover and below).
void draw_sweep_table(const TimingSweep& sweep, const char* variable, float height) {
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_BordersInnerV |
                                ImGuiTableFlags_ScrollY;
  if (!ImGui::BeginTable("sweep_table", 7, flags, ImVec2(0, height))) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn(variable);
  ImGui::TableSetupColumn("DMA incl. mask");
  ImGui::TableSetupColumn("DMA kernel");
  ImGui::TableSetupColumn("dense");
  ImGui::TableSetupColumn("materialized");
  ImGui::TableSetupColumn("speedup vs dense");
  ImGui::TableSetupColumn("note", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableHeadersRow();
  auto ms_cell = [](int column, const TimedVariant& variant) {
    ImGui::TableSetColumnIndex(column);
    if (variant.measured) ImGui::TextUnformatted(format_ms(variant.median_ms).c_str());
    else ImGui::TextDisabled("—");
  };
  for (std::size_t n = 0; n < sweep.timings.size() && n < sweep.points.size(); ++n) {
    const LayerTiming& t = sweep.timings[n];
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    ImGui::TextUnformatted(token_count_label(sweep.points[n]).c_str());
    if (t.failed()) {
      for (int column = 1; column <= 5; ++column) {
        ImGui::TableSetColumnIndex(column);
        ImGui::TextDisabled("—");
      }
      ImGui::TableSetColumnIndex(6);
      ImGui::TextColored(kErrorColor, "failed");
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", t.failed_why.c_str());
      continue;
    }
    ms_cell(1, t.dma_incl_mask());
    ms_cell(2, t.dma);
    ms_cell(3, t.dense);
    ms_cell(4, t.materialized);
    ImGui::TableSetColumnIndex(5);
    ImGui::TextUnformatted(t.dense.measured && t.dma_total_ms() > 0 ? format_ratio(t.speedup()).c_str() : "—");
    ImGui::TableSetColumnIndex(6);
    if (!t.materialized.measured && !t.materialized.skipped_why.empty())
      ImGui::TextDisabled("materialized skipped: %s", t.materialized.skipped_why.c_str());
  }
  ImGui::EndTable();
}

void draw_sweep(AppState& state, const PipelineResult& result, SweepKind kind, std::int64_t layer) {
  const bool cuda = result.settings.backend == Backend::Cuda;
  const std::vector<std::int64_t> points =
      kind == SweepKind::Length ? length_sweep_points(cuda) : window_sweep_points(result.length(), result.forward.window);
  if (kind == SweepKind::Length)
    ImGui::TextWrapped("Synthetic q/k/v ~ N(0, 1) and random β with %s's head shape, w %lld, L = %s…%s (%s) — "
                       "not the model's activations.",
                       result.model->name().c_str(), static_cast<long long>(result.forward.window),
                       token_count_label(points.front()).c_str(), token_count_label(points.back()).c_str(),
                       cuda ? "CUDA" : "CPU: shorter than on CUDA");
  else
    ImGui::TextWrapped("Layer %lld's captured q/k/v/β (L %lld) with w = %s…%s.", static_cast<long long>(layer),
                       static_cast<long long>(result.length()), token_count_label(points.front()).c_str(),
                       token_count_label(points.back()).c_str());
  const auto sweep = state.pipeline.sweep(kind);
  const std::string error = state.pipeline.sweep_error(kind);
  if (state.pipeline.sweep_running(kind)) {
    const PipelineStatus status = state.pipeline.status();
    const float fraction = status.steps_total > 0 ? static_cast<float>(status.steps_done) / status.steps_total : 0.0f;
    ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * 10, 0),
                       fmt::format("point {}/{}", status.steps_done, status.steps_total).c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("cancel")) state.pipeline.cancel();
  } else if (state.pipeline.sweep_pending(kind)) {
    ImGui::TextDisabled("waiting for the running job…");
  } else if (ImGui::SmallButton(sweep ? "run again" : "run sweep")) {
    state.pipeline.request_sweep(kind, layer, points);
  }
  if (sweep) {
    ImGui::SameLine();
    if (ImGui::SmallButton("export CSV"))
      export_csv(state, "sweep CSV", timing_sweep_csv_name(result, *sweep), timing_sweep_csv(*sweep));
  }
  ImGui::SameLine();
  ImGui::Checkbox("log ms axis", &state.timing_panel.log_ms);
  ImGui::SameLine();
  ImGui::Checkbox("table", &state.timing_panel.sweep_table);
  if (!error.empty()) ImGui::TextColored(kErrorColor, "sweep: %s", error.c_str());
  if (!sweep) return;
  const std::size_t failed = sweep->failed_points();
  ImGui::TextDisabled("%s · %s%s%s", sweep->device.empty() ? "no device timed" : sweep->device.c_str(),
                      kind == SweepKind::Window ? fmt::format("layer {}", sweep->layer).c_str() : "synthetic",
                      sweep->cancelled ? fmt::format(" · cancelled after {} of {} points", sweep->timings.size(),
                                                     sweep->points.size()).c_str()
                                       : "",
                      failed ? fmt::format(" · {} of {} points failed", failed, sweep->timings.size()).c_str() : "");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", sweep->what_timed.c_str());
  // Each failed point's reason goes under the chart or the table, which keep the rest of the panel.
  const char* variable = kind == SweepKind::Length ? "L" : "w";
  const std::vector<std::string> failures = failure_lines(*sweep, variable);
  const float height =
      std::max(ImGui::GetContentRegionAvail().y - 4 - wrapped_lines_height(failures), ImGui::GetTextLineHeight() * 8);
  if (state.timing_panel.sweep_table) {
    draw_sweep_table(*sweep, variable, height);
  } else {
    LineChartOptions options;
    for (std::size_t n = 0; n < sweep->timings.size() && n < sweep->points.size(); ++n)
      if (sweep->timings[n].failed())
        options.failed_points.push_back({static_cast<double>(sweep->points[n]), sweep->timings[n].failed_why});
    options.x_title = kind == SweepKind::Length ? "L (tokens)" : "w (keys per row)";
    options.y_title = "ms (median)";
    options.log_y = state.timing_panel.log_ms;
    options.height = height;
    options.format_value = &format_ms;
    draw_line_chart(kind == SweepKind::Length ? "sweep_L" : "sweep_w", sweep_series(*sweep), options);
  }
  draw_wrapped_lines(failures);
}

}  // namespace

void draw_timing_panel(AppState& state) {
  const auto result = begin_result_panel(state, PanelSlot::Timing, "Timing");
  if (!result) return;
  const std::int64_t layer = state.view.layer;
  const bool cuda = result->settings.backend == Backend::Cuda;
  ImGui::Text("layer %lld · %s · %lld tokens · w %lld", static_cast<long long>(layer),
              cuda ? fmt::format("CUDA backend, {}", precision_name(result->settings.timing_dtype)).c_str()
                   : "CPU backend, fp32",
              static_cast<long long>(result->length()), static_cast<long long>(result->forward.window));
  panel_png_button(state, "timing");
  if (state.pipeline.result_is_stale()) {
    const ImVec2 at = ImGui::GetCursorScreenPos();
    draw_stale_badge(ImGui::GetWindowDrawList(), at);
    ImGui::Dummy(ImVec2(1, ImGui::GetTextLineHeight() + 8));
  }
  draw_layer_work(state, *result, layer);
  if (state.deterministic) {
    ImGui::TextWrapped("Timings are not measured for screenshots: they change from run to run.");
    ImGui::End();
    return;
  }
  if (ImGui::BeginTabBar("timing_tabs")) {
    if (ImGui::BeginTabItem("this layer")) {
      draw_current_layer(state, *result, layer);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("sweep over L")) {
      draw_sweep(state, *result, SweepKind::Length, layer);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("sweep over w")) {
      draw_sweep(state, *result, SweepKind::Window, layer);
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
  }
  ImGui::End();
}

}  // namespace dmascope::gui
