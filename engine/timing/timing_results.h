// What the Timing view and the kernel tile map show, free of any GUI or CUDA type so that the CSV writers and their
// tests can use it: one timing of DMA against the dense baselines, a sweep of such timings over L or w, and the
// CUDA kernel's own tile statuses and per-CTA times for one layer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/attention/tile_sizes.h"

namespace dmascope::engine {

// The precision the CUDA kernels are timed in; the CPU kernels are always fp32.
enum class TimingDtype { BF16, F16 };
std::string_view timing_dtype_name(TimingDtype dtype);  // "bf16" | "fp16"
TimingDtype timing_dtype_from_name(std::string_view name);

// Median and spread (max − min) of the repeats of one timed variant; measured == false when it was not run (then
// `skipped_why` says why, e.g. the materialized L×L scores do not fit in memory).
struct TimedVariant {
  bool measured = false;
  double median_ms = 0, spread_ms = 0;
  double executed_pairs = 0;  // (query, key) pairs the variant computes, all query heads
  double useful_pairs = 0;    // of those, the ones the mask (or causality) keeps
  std::string skipped_why;
};

// DMA and its baselines on one attention problem (one layer, or one synthetic sweep point), with what was timed.
struct LayerTiming {
  std::uint64_t generation = 0;  // of the result it timed
  std::int64_t layer = 0;
  std::string device;            // "CPU, 2 threads, fp32" or "NVIDIA H100 80GB HBM3 (CUDA, bf16)"
  bool on_gpu = false;
  int repeats = 0;
  std::int64_t length = 0, window = 0, head_dim = 0, q_heads = 0;
  TimedVariant mask_build;       // death indices, all bias heads
  TimedVariant dma;              // the masked kernel (CUDA: gather lists + sparse forward)
  TimedVariant dense;            // the same kernel family without a mask (causal)
  TimedVariant materialized;     // QKᵀ → softmax → PV with the L×L scores in memory (cuBLAS, or the CPU reference)
  double token_density = 0;      // kept / causal pairs, all heads of the layer
  double tile_density = 0;       // active / causal tiles (the reported tile size on the CPU, 64×64 on CUDA)
  // A sweep point that could not be timed (CUDA out of memory at a large L, a length the backend refuses): why.
  // Then nothing above is measured; length and window still say which problem it was.
  std::string failed_why;

  bool failed() const { return !failed_why.empty(); }

  double dma_total_ms() const { return mask_build.median_ms + dma.median_ms; }
  // DMA as a user pays for it: the mask build plus the kernel (sum of medians; spreads add up as a bound).
  TimedVariant dma_incl_mask() const {
    TimedVariant total = dma;
    total.measured = mask_build.measured && dma.measured;
    total.median_ms = dma_total_ms();
    total.spread_ms = mask_build.spread_ms + dma.spread_ms;
    return total;
  }
  double speedup() const { return dma_total_ms() > 0 ? dense.median_ms / dma_total_ms() : 0; }
  double speedup_vs_materialized() const {
    return materialized.measured && dma_total_ms() > 0 ? materialized.median_ms / dma_total_ms() : 0;
  }
  double ideal_speedup() const { return token_density > 0 ? 1.0 / token_density : 0; }
};

enum class SweepKind { Length, Window };
std::string_view sweep_kind_name(SweepKind kind);  // "L" | "w"

// A sweep: one timing per point, plus a sentence that says exactly what was timed. A point that fails is kept as a
// failed LayerTiming with its reason and the sweep goes on, so one out-of-memory point never costs the others.
struct TimingSweep {
  SweepKind kind = SweepKind::Length;
  std::uint64_t generation = 0;
  std::int64_t layer = 0;        // the layer whose captures a w sweep times
  std::string what_timed;
  std::string device;
  std::vector<std::int64_t> points;  // L or w, ascending
  std::vector<LayerTiming> timings;  // one per point (fewer when cancelled); failed() ones included
  bool cancelled = false;            // stopped by the user after timings.size() points

  std::size_t failed_points() const;
};

// The CUDA kernel's own view of one layer (DmaRunner::forward with Instrumentation on, in a separate untimed run):
// statuses of its 64×64 tiles per bias head and each forward CTA's duration per query head and query tile.
struct KernelTileMap {
  std::uint64_t generation = 0;
  std::int64_t layer = 0;
  std::string device;
  std::int64_t bias_heads = 0, q_heads = 0, q_tiles = 0, k_tiles = 0, tile_rows = kTileRows, tile_cols = kTileKeys;
  std::vector<std::uint8_t> status;            // [bias head, q_tile, k_tile] TileStatus values
  std::vector<double> cta_microseconds;        // [q head, q_tile]
  std::vector<std::int32_t> keys_gathered;     // [bias head, q_tile]

  std::uint8_t status_at(std::int64_t bias_head, std::int64_t q_tile, std::int64_t k_tile) const {
    return status[static_cast<std::size_t>((bias_head * q_tiles + q_tile) * k_tiles + k_tile)];
  }
  double cta_us(std::int64_t q_head, std::int64_t q_tile) const {
    return cta_microseconds[static_cast<std::size_t>(q_head * q_tiles + q_tile)];
  }
};

}  // namespace dmascope::engine
