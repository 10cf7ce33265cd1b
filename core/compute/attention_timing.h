// What an attention timing measures, free of any GUI or CUDA type: DMA against the dense baselines on one attention
// problem, and the CUDA kernel's own tile statuses and per-CTA times. The backends (compute_backend.h) fill these; the
// engine's Timing view, its sweeps and `dmascope-cli bench` read them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/attention/kernel_counters.h"

namespace dmascope {

// Median and spread (max − min) of the repeats of one timed variant; measured == false when it was not run (then
// `skipped_why` says why, e.g. the materialized L×L scores do not fit in memory).
struct TimedVariant {
  bool measured = false;
  double median_ms = 0, spread_ms = 0;
  double executed_pairs = 0;  // (query, key) pairs the variant computes, all query heads
  double useful_pairs = 0;    // of those, the ones the mask (or causality) keeps
  std::string skipped_why;
};

// The one place where repeated times become a median and a spread (every backend, every variant). Empty: unmeasured.
TimedVariant summarize_times(std::vector<double> milliseconds);

// DMA and its baselines on one attention problem (one layer, or one synthetic sweep point, or one bench row).
// "DMA time" is dma_total: the mask build and the forward timed together as one unit of work (on CUDA the graph
// DmaRunner::mask_and_forward replays, on the CPU the mask build then attention_tiled). The mask build alone and the
// forward alone are breakdowns of it, timed separately.
struct LayerTiming {
  std::uint64_t generation = 0;  // of the result it timed
  std::int64_t layer = 0;
  std::string device;            // "CPU, 2 threads, fp32" or "NVIDIA H100 80GB HBM3 (CUDA, bf16, wgmma forward)"
  std::string device_name;       // the bare device: "CPU, 2 threads" or "NVIDIA H100 80GB HBM3"
  std::string forward_kernel;    // "tiled CPU", or the CUDA forward's kernel ("wgmma" | "mma.sync")
  bool on_gpu = false;
  int repeats = 0;
  std::int64_t length = 0, window = 0, head_dim = 0, q_heads = 0;
  TimedVariant mask_build;       // death indices, all bias heads, alone
  TimedVariant dma;              // the masked kernel alone (CUDA: gather lists + sparse forward)
  TimedVariant dma_total;        // DMA time: mask build + forward as one unit (see above)
  TimedVariant dense;            // the same kernel family without a mask (causal)
  TimedVariant materialized;     // QKᵀ → softmax → PV with the L×L scores in memory (cuBLAS, or the CPU reference)
  // Measured only when asked (bench detail, CUDA): the mask build with the forward's gather lists, and the DMA as
  // separate launches (mask build, then forward) rather than one graph.
  TimedVariant mask_and_lists, dma_launched;
  // Measured only with AttentionTimingOptions::counters (CUDA): dma_total's graph with the forward's counters on, and
  // the counters of its last run (the kernel's own account of its work).
  TimedVariant dma_total_counted;
  KernelCounters kernel_counters;
  double token_density = 0;      // kept / causal pairs, all heads of the layer
  double tile_density = 0;       // active / causal tiles (the reported tile size on the CPU, 64×64 on CUDA)
  // A sweep point that could not be timed (CUDA out of memory at a large L, a length the backend refuses): why.
  // Then nothing above is measured; length and window still say which problem it was.
  std::string failed_why;
  // With AttentionTimingOptions::keep_dma_output: the DMA's output [B, Hq, L, d] as the kernel wrote it (CUDA: bf16 or
  // fp16 widened to fp32), before any baseline overwrote it. Empty otherwise.
  std::vector<float> dma_output;

  bool failed() const { return !failed_why.empty(); }

  double dma_total_ms() const { return dma_total.median_ms; }
  // DMA as a user pays for it: the mask build plus the kernel, measured together.
  const TimedVariant& dma_incl_mask() const { return dma_total; }
  double speedup() const { return dma_total_ms() > 0 ? dense.median_ms / dma_total_ms() : 0; }
  double speedup_vs_materialized() const {
    return materialized.measured && dma_total_ms() > 0 ? materialized.median_ms / dma_total_ms() : 0;
  }
  double ideal_speedup() const { return token_density > 0 ? 1.0 / token_density : 0; }
};

// The CUDA kernel's own view of one layer (DmaRunner::forward with Instrumentation on, in a separate untimed run): the
// counters the forward kernel wrote while it ran (keys gathered and pairs computed per query head and tile, kept
// entries per tile), the statuses of its 64×64 tiles per bias head that follow from them, and each forward CTA's
// duration per query head and query tile.
struct KernelTileMap {
  std::uint64_t generation = 0;
  std::int64_t layer = 0;
  std::string device;
  std::int64_t bias_heads = 0, q_heads = 0, q_tiles = 0, k_tiles = 0, tile_rows = 64, tile_cols = 64;
  std::vector<std::uint8_t> status;            // [bias head, q_tile, k_tile] TileStatus values
  std::vector<double> cta_microseconds;        // [q head, q_tile]
  std::vector<std::int32_t> keys_gathered;     // [bias head, q_tile]
  KernelCounters counters;                     // as the forward kernel wrote them (batch 1)

  std::uint8_t status_at(std::int64_t bias_head, std::int64_t q_tile, std::int64_t k_tile) const {
    return status[static_cast<std::size_t>((bias_head * q_tiles + q_tile) * k_tiles + k_tile)];
  }
  double cta_us(std::int64_t q_head, std::int64_t q_tile) const {
    return cta_microseconds[static_cast<std::size_t>(q_head * q_tiles + q_tile)];
  }
};

}  // namespace dmascope
