// How much of dense attention a strategy keeps, per (layer, head, strategy), computed in row chunks (one query tile
// of rows at a time; memory O(tile rows · L), never L×L). Definitions (research/mask-methods.md §5.1):
//   s_ij = q_i·k_j/√d + β_j on the causal prefix j ≤ i; dense p_ij = softmax_j≤i of s_ij (with β, what DMA
//   approximates, the default) or of s_ij − β_j (dense_with_bias = false: the model without its bias).
//   token_density      Σ|S_i| / Σ(i + 1)
//   tile_density       active tiles / causal tiles at `tiles` (a tile is active when some row keeps some key in it)
//   mass_recall_i      Σ_{j∈S_i} p_ij; reported as the mean over rows, the minimum, and the mean per row band
//   output_rel_error   ‖O_S − O_dense‖_F / ‖O_dense‖_F over the head; O_S = softmax of s_ij (with β) restricted to S_i
// An empty kept row (dam can give one) has O_S = 0 and recall 0 and is counted in empty_rows. fp32 products, fp64
// sums; a NaN or infinity in the logits or outputs makes the metrics NaN and sets non_finite.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "core/attention/attention_cpu.h"
#include "core/lab/kept_rows.h"
#include "core/lab/lab_head.h"
#include "core/lab/strategy.h"
#include "core/view/view_reduce.h"

namespace dmascope {

// Row bands of mass_recall_by_band: band b holds rows [b·L/bands, (b + 1)·L/bands).
inline constexpr std::int64_t kRecallRowBands = 4;

struct LabMetricOptions {
  bool dense_with_bias = true;
  TileShape tiles;                            // rows per chunk = tiles.rows
  const std::atomic<bool>* cancel = nullptr;  // checked per chunk; a cancelled computation throws LabCancelled
};

struct LabCancelled : std::exception {
  const char* what() const noexcept override { return "mask lab cancelled"; }
};

struct StrategyMetrics {
  Strategy strategy = Strategy::Dma;
  std::int64_t window = 0;
  double token_density = 0, tile_density = 0;
  double mass_recall_mean = 0, mass_recall_min = 0;
  std::vector<double> mass_recall_by_band;   // kRecallRowBands values
  double output_rel_error = 0;
  std::int64_t kept_entries = 0, causal_entries = 0;
  std::int64_t active_tiles = 0, causal_tiles = 0;
  std::int64_t empty_rows = 0;
  bool non_finite = false;
  double kept_set_ms = 0;  // CPU time spent building this strategy's kept sets (summed over threads)
  // GPU time of the strategy's sparse attention over the head (CUDA events), on the kernel gpu_kernel names: "dma" —
  // the bf16 DMA kernels, one graph replay, median of several (dma and shared with their mask build; swa and sinks
  // from positional death indices) — or "gather" — the generic fp32 gather kernel with its kept sets and key lists
  // (oracle, nsa, dam; any strategy on a head the DMA kernels refuse). NaN and "" where the metrics ran on the CPU.
  double gpu_ms = std::numeric_limits<double>::quiet_NaN();
  std::string gpu_kernel;
};

// All strategies of one head, one pass over the rows (the dense logits and outputs are computed once). Runs on
// worker_count() threads. Results in the order of `strategies`.
std::vector<StrategyMetrics> head_metrics(const LabHead& head, std::span<const Strategy> strategies,
                                          const LabMetricOptions& options);

// Token Jaccard of kept sets between heads of one layer: J(h, h') = Σ_i |S_i^h ∩ S_i^h'| / Σ_i |S_i^h ∪ S_i^h'|,
// [H, H] row-major, 1 on the diagonal. All heads must have the same L.
std::vector<double> kept_set_jaccard(std::span<const LabHead> heads, Strategy strategy);

// The "dropped mass" picture of one head and strategy: per pixel of a width × height grid of `window`, the dense
// probability of the causal entries the strategy dropped (mean or max per pixel; cells as core/view/view_reduce.h's
// cells_of_pixel). kNoCausalCell where a pixel covers no causal cell. Computes the rows the view covers only.
std::vector<float> dropped_mass_grid(const LabHead& head, Strategy strategy, bool dense_with_bias,
                                     const MatrixWindow& window, std::int64_t width, std::int64_t height,
                                     ReduceMode mode);

// Dense probabilities of one head, [L, L] row-major with zeros above the diagonal: for DAM's calibration maps at the
// capture length and for small-L tests only (it is the L×L buffer the metrics avoid). parallel = false computes it on
// the calling thread (a caller that already spreads many maps over the cores).
std::vector<float> dense_attention_map(const LabHead& head, bool dense_with_bias, bool parallel = true);

}  // namespace dmascope
