// Level of detail: reduces what a head holds to the grid of pixels a view shows, without ever building an L×L
// buffer for the mask. The compact mask (keep(i, j) ⇔ j ≤ i < death[j], core/mask/dma_mask.h) is reduced row band by row
// band in O(view height × visible keys); dense probabilities (only captured at small L) in O(visible cells).
//
// Every grid is row-major [height, width], row 0 at the top (first query row), one value per output pixel:
//   Mean: the fraction (mask) or mean (values) over the causally allowed cells (key ≤ query) the pixel covers;
//   Max:  1 if any covered allowed cell is kept (mask), else the largest value.
// A pixel that covers no allowed cell (wholly above the diagonal) holds kNoCausalCell, so a view can draw it apart.
// Which cells a pixel covers is cells_of_pixel (core/view/view_geometry.h), the rule the hover lookup shares.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/attention/attention_cpu.h"
#include "core/view/view_geometry.h"

namespace dmascope {

enum class ReduceMode { Mean, Max };
std::string_view reduce_mode_name(ReduceMode mode);         // "mean" | "max"
ReduceMode reduce_mode_from_name(std::string_view name);    // throws Error otherwise

inline constexpr float kNoCausalCell = -1.0f;

// The row bands of a grid's pixel rows when they tile the visible rows (zoomed out: every pixel row holds at least one
// cell centre, so band y is [starts[y], starts[y + 1]), height + 1 starts); empty when zoomed in so far that they
// overlap. Where it is not empty, the mask is reduced by interval counting (here and on the GPU, view_reduce.cu).
std::vector<std::int64_t> tiling_row_bands(const MatrixWindow& window, std::int64_t height, std::int64_t L);

// death: one bias head's death indices, length L (query rows = keys = L).
std::vector<float> reduce_mask_to_grid(std::span<const std::int32_t> death, const MatrixWindow& window,
                                       std::int64_t width, std::int64_t height, ReduceMode mode);

// values: [L, L] row-major (e.g. one head's attention probabilities).
std::vector<float> reduce_matrix_to_grid(std::span<const float> values, std::int64_t length, const MatrixWindow& window,
                                         std::int64_t width, std::int64_t height, ReduceMode mode);

// One value per key (β) reduced to `width` columns over [col_begin, col_end).
std::vector<float> reduce_keys_to_strip(std::span<const float> per_key, double col_begin, double col_end,
                                        std::int64_t width, ReduceMode mode);

// Tile statuses (TileStatus values 0/1/2, the largest over the causal tiles a pixel covers) for a square L×L map;
// kNoCausalCell where the pixel covers only tiles wholly above the diagonal (diagonal tiles are drawn whole).
std::vector<float> reduce_tile_map_to_grid(const TileMap& map, std::int64_t length, const MatrixWindow& window,
                                           std::int64_t width, std::int64_t height);

// ---- Logits: what the softmax sees -------------------------------------------------------------------------------
// S[i, j] = q_i·k_j · scale + β_j on the kept entries of one query head (core/attention/attention_cpu.h's rule), computed from
// the layer's captures (q and k after RoPE, β, the death indices) one pixel at a time: no L×L buffer, and only kept
// entries cost a dot product. A pixel's value is the mean or the max of the logits of the kept entries it covers.
//
// Exact mode computes every kept entry the window covers, O(kept entries · d). Past options.exact_max_entries kept
// entries (zoomed out on a long sequence) each pixel computes at most options.samples_per_pixel of its kept entries,
// picked at even strides through them (key by key, rows within a key), so the cost is bounded by
// pixels · samples · d; the grid then says `sampled` and the view must label it so (a sampled max is a lower bound).

struct LogitSource {
  std::span<const float> query;          // [L, head_dim]: the query head after RoPE
  std::span<const float> key;            // [L, head_dim]: its kv head after RoPE
  std::span<const float> beta;           // [L]: its bias head's β
  std::span<const std::int32_t> death;   // [L]: its bias head's death indices
  std::int64_t head_dim = 0;
  float scale = 1.0f;                    // 1/√head_dim, as in the forward
  // Probabilities instead of logits when given: row_lse[i − lse_first_row] is the log-sum-exp of S over row i's kept
  // keys (row_log_sum_exp) for the rows the grid covers, and a value is exp(S − lse_i), what the softmax gives the
  // entry. Only the view's rows are needed, so probabilities never need an L×L buffer.
  std::span<const float> row_lse;
  std::int64_t lse_first_row = 0;
  bool probabilities() const { return !row_lse.empty(); }
  std::int64_t length() const { return static_cast<std::int64_t>(death.size()); }
  void validate() const;                 // throws Error when the spans do not fit L and head_dim
};

// One logit, as the reduction computes it (the tooltip uses it, so that hover and picture agree).
float dma_logit(const LogitSource& source, std::int64_t query, std::int64_t key);
// One entry of the logits and probabilities views.
struct LogitCell {
  float logit = 0.0f, probability = 0.0f;
};

// One probability, exp(S − lse_query), as the reduction computes it; the source must carry the query row's lse.
float dma_probability(const LogitSource& source, std::int64_t query, std::int64_t key);

// log Σ_j exp(S[i, j]) over row i's kept keys (j ≤ i < death[j]) for the rows [rows.begin, rows.end): O(rows · L)
// death lookups and O(kept entries · d) multiply-adds, in parallel over rows; the sum in double around the row's
// maximum. −∞ for a row that keeps nothing. `cancel` is checked per block of rows (then the result is empty).
std::vector<float> row_log_sum_exp(const LogitSource& source, const CellRange& rows,
                                   const std::atomic<bool>* cancel = nullptr);

// What a pixel of a logit grid covers.
enum class LogitPixel : std::uint8_t {
  NoCausalCell,  // only cells above the diagonal
  AllMasked,     // causally allowed cells, none of them kept: the softmax sees -inf there
  Value,         // at least one kept entry: values[p] holds the mean or max logit
};

// Kept entries up to which the whole window is computed exactly: 2^20 entries · d = 128 is ~134 M multiply-adds,
// a few tens of ms on two cores, off the UI thread.
inline constexpr std::int64_t kLogitExactMaxEntries = std::int64_t{1} << 20;
// Kept entries per pixel in sampled mode: 64 keeps a 1000² view at 64 M dot products of d at most.
inline constexpr std::int64_t kLogitSamplesPerPixel = 64;

// Sampled mode's per-pixel budget for a grid of `pixels`: about 2^24 dot products in all (≈ 2 G multiply-adds at
// d = 128, a fraction of a second on two cores), at least 4 and at most kLogitSamplesPerPixel per pixel.
std::int64_t logit_samples_per_pixel(std::int64_t pixels);

struct LogitGridOptions {
  std::int64_t exact_max_entries = kLogitExactMaxEntries;
  std::int64_t samples_per_pixel = kLogitSamplesPerPixel;
  const std::atomic<bool>* cancel = nullptr;  // checked per pixel row; a cancelled grid has cancelled = true
};

struct LogitGrid {
  std::int64_t width = 0, height = 0;
  std::vector<float> values;               // [height, width]; 0 where coverage is not Value
  std::vector<LogitPixel> coverage;        // [height, width]
  bool sampled = false;                    // some pixel used fewer of its kept entries than it covers
  std::int64_t kept_entries = 0;           // kept entries in the window (the exact-mode cost)
  std::int64_t computed_entries = 0;       // dot products done (dedup'ed pixels counted once)
  float low = 0.0f, high = 0.0f;           // range of the Value pixels (both 0 when there is none)
  bool cancelled = false;
};

// The rows a grid of `height` pixel rows covers over the window (cells_of_pixel of its first and last pixel row): the
// rows whose log-sum-exp a probabilities grid needs.
CellRange rows_in_view(const MatrixWindow& window, std::int64_t height, std::int64_t L);

// Sets grid.low and grid.high to the range of its Value pixels (both 0 when there is none).
void set_value_range(LogitGrid& grid);

// Kept entries of the cells a width × height grid of the window covers (cells_of_pixel): O(visible keys).
std::int64_t kept_entries_in_window(std::span<const std::int32_t> death, const MatrixWindow& window,
                                    std::int64_t width, std::int64_t height);

LogitGrid reduce_logits_to_grid(const LogitSource& source, const MatrixWindow& window, std::int64_t width,
                                std::int64_t height, ReduceMode mode, const LogitGridOptions& options = {});

}  // namespace dmascope
