#include "engine/timing/timing_csv.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/compute/timing_math.h"
#include "core/base/error.h"

namespace dmascope::engine {

namespace {

constexpr std::string_view kTimingColumns =
    "device,on_gpu,layer,length,window,head_dim,q_heads,variant,measured,median_ms,spread_ms,executed_pairs,"
    "useful_pairs,executed_tflops,useful_tflops,speedup_of_dma_incl_mask,note";

void append_variant(std::string& out, std::string_view prefix, const LayerTiming& t, std::string_view name,
                    const TimedVariant& variant, double speedup) {
  out += prefix;
  out += fmt::format("{},{},{},{},{},{},{},{},{},", csv_field(t.device), t.on_gpu ? 1 : 0, t.layer, t.length, t.window,
                     t.head_dim, t.q_heads, name, variant.measured ? 1 : 0);
  if (variant.measured)
    out += fmt::format("{:.6g},{:.6g},{:.0f},{:.0f},{:.6g},{:.6g},{:.6g},", variant.median_ms, variant.spread_ms,
                       variant.executed_pairs, variant.useful_pairs,
                       attention_tflops_per_second(variant.executed_pairs, t.head_dim, variant.median_ms),
                       attention_tflops_per_second(variant.useful_pairs, t.head_dim, variant.median_ms), speedup);
  else
    out += ",,,,,,,";
  // A sweep point that failed says so, with the reason, in every variant's row (none of them was measured).
  out += csv_field(t.failed() ? "failed: " + t.failed_why : variant.skipped_why);
  out += '\n';
}

void append_timing(std::string& out, std::string_view prefix, const LayerTiming& t) {
  const double total = t.dma_total_ms();
  auto ratio = [&](const TimedVariant& v) { return v.measured && total > 0 ? v.median_ms / total : 0.0; };
  append_variant(out, prefix, t, "mask_build", t.mask_build, 0);
  append_variant(out, prefix, t, "dma_kernel", t.dma, 0);
  append_variant(out, prefix, t, "dma_incl_mask", t.dma_incl_mask(), 1);
  append_variant(out, prefix, t, "dense", t.dense, ratio(t.dense));
  append_variant(out, prefix, t, "materialized", t.materialized, ratio(t.materialized));
}

std::int64_t bias_head_of(std::int64_t head, std::int64_t q_heads, std::int64_t bias_heads) {
  return bias_heads == q_heads ? head : head / (q_heads / bias_heads);
}

// Causal key tiles of query tile qt: those whose first key is not after the tile's last row.
std::int64_t causal_k_tiles(std::int64_t qt, std::int64_t rows, std::int64_t cols, std::int64_t length, std::int64_t k_tiles) {
  const std::int64_t last_row = std::min(length, (qt + 1) * rows) - 1;
  return std::min(k_tiles, last_row / cols + 1);
}

void check_rows(double rows) {
  if (rows > static_cast<double>(kMaxTileCsvRows))
    fail("the tile map has {:.0f} causal tiles over all heads, more than the {} rows a CSV export writes; pick a "
         "larger tile size or a shorter sequence", rows, kMaxTileCsvRows);
}

}  // namespace

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

std::string layer_timing_csv(const LayerTiming& timing) {
  std::string out(kTimingColumns);
  out += '\n';
  append_timing(out, {}, timing);
  return out;
}

std::string timing_sweep_csv(const TimingSweep& sweep) {
  std::string out = fmt::format("sweep,point,{}\n", kTimingColumns);
  for (std::size_t n = 0; n < sweep.timings.size() && n < sweep.points.size(); ++n)
    append_timing(out, fmt::format("{},{},", sweep_kind_name(sweep.kind), sweep.points[n]), sweep.timings[n]);
  return out;
}

std::string kernel_tile_map_csv(const KernelTileMap& map, std::int64_t length) {
  double rows = 0;
  for (std::int64_t qt = 0; qt < map.q_tiles; ++qt)
    rows += static_cast<double>(causal_k_tiles(qt, map.tile_rows, map.tile_cols, length, map.k_tiles));
  check_rows(rows * static_cast<double>(map.q_heads));
  std::string out = "head,bias_head,q_tile,k_tile,status,cta_us\n";
  for (std::int64_t h = 0; h < map.q_heads; ++h) {
    const std::int64_t b = bias_head_of(h, map.q_heads, map.bias_heads);
    for (std::int64_t qt = 0; qt < map.q_tiles; ++qt) {
      const std::string cta = fmt::format("{:.3f}", map.cta_us(h, qt));
      for (std::int64_t kt = 0; kt < causal_k_tiles(qt, map.tile_rows, map.tile_cols, length, map.k_tiles); ++kt)
        out += fmt::format("{},{},{},{},{},{}\n", h, b, qt, kt,
                           tile_status_name(static_cast<TileStatus>(map.status_at(b, qt, kt))), cta);
    }
  }
  return out;
}

std::string cpu_tile_map_csv(std::span<const TileMap> maps, std::int64_t q_heads, std::int64_t length) {
  if (maps.empty()) return "head,bias_head,q_tile,k_tile,status\n";
  const auto bias_heads = static_cast<std::int64_t>(maps.size());
  const TileMap& first = maps.front();
  double rows = 0;
  for (std::int64_t qt = 0; qt < first.q_tiles; ++qt)
    rows += static_cast<double>(causal_k_tiles(qt, first.shape.rows, first.shape.cols, length, first.k_tiles));
  check_rows(rows * static_cast<double>(q_heads));
  std::string out = "head,bias_head,q_tile,k_tile,status\n";
  for (std::int64_t h = 0; h < q_heads; ++h) {
    const std::int64_t b = bias_head_of(h, q_heads, bias_heads);
    const TileMap& map = maps[static_cast<std::size_t>(b)];
    for (std::int64_t qt = 0; qt < map.q_tiles; ++qt)
      for (std::int64_t kt = 0; kt < causal_k_tiles(qt, map.shape.rows, map.shape.cols, length, map.k_tiles); ++kt)
        out += fmt::format("{},{},{},{},{}\n", h, b, qt, kt,
                           tile_status_name(static_cast<TileStatus>(map.status[static_cast<std::size_t>(qt * map.k_tiles + kt)])));
  }
  return out;
}

}  // namespace dmascope::engine
