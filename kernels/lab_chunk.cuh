// The mask lab's per-chunk kernels on the GPU (kernels/lab_metrics_cuda.cpp runs them; the CPU twin of the whole is
// core/lab/lab_metrics.h's head_metrics, of the kept sets core/lab/kept_rows.h's KeptSetBuilder). A chunk is the rows
// [row_begin, row_begin + rows) of one head over the keys [0, keys), keys = row_begin + rows (the causal prefix of
// its last row): score matrices are row-major [rows, keys] and kept sets are bit rows [rows, words], words = ⌈keys/32⌉
// (bit j%32 of word j/32 set ⇔ the row keeps key j). Memory is O(rows · L), never L × L.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dmascope::cuda {

struct LabChunk {
  int row_begin = 0, rows = 0, keys = 0, words = 0;
};

// Grid: one CTA of 256 per row. In place: scores_ij = raw_ij·scale + β_j for j ≤ i (what every strategy's softmax
// sees); probs = the dense reference softmax over j ≤ i (of those scores, or of raw·scale when !with_bias), zeros past
// the diagonal. *non_finite = 1 when a row's maximum or sum is not finite.
void launch_lab_dense_rows(const LabChunk& chunk, float* scores, float* probs, const float* beta, float scale,
                           bool with_bias, int* non_finite, cudaStream_t stream);

// Kept sets that positions and per-key arrays decide (one thread per (row, word)).
enum class LabIndexRule : int { Death, Swa, Sinks, Dam };
struct LabIndexBitsParams {
  LabChunk chunk;
  LabIndexRule rule = LabIndexRule::Swa;
  int window = 1;
  const std::int32_t* death = nullptr;         // Death: [L] death indices (dma or shared)
  const std::uint8_t* dam_true_mask = nullptr;  // Dam: [Lc, Lc]
  const std::uint8_t* dam_diagonal = nullptr;   // Dam: [Lc] matched diagonals
  const std::uint8_t* dam_vertical = nullptr;   // Dam: [Lc] matched verticals
  int dam_capture = 0;                          // Lc
  std::uint32_t* bits = nullptr;                // [rows, chunk.words]
};
void launch_lab_index_bits(const LabIndexBitsParams& params, cudaStream_t stream);

// Per row i of the chunk, the top_k of values[r, 0 … n_i) with n_i = (i + n_add) / n_divisor: larger first, NaN as
// the largest, ties to the lower index (the CPU's ranks_before); all n_i when n_i ≤ top_k. Written as bit rows
// bits[r · bits_stride …] over [0, bits_stride·32). Grid: one CTA of 256 per row; an 8-bit radix select (4 passes
// over the row) finds the k-th largest, then one pass in index order keeps the first ties.
struct LabTopKParams {
  LabChunk chunk;
  const float* values = nullptr;
  std::int64_t values_stride = 0;
  int n_add = 1, n_divisor = 1, top_k = 1;
  std::uint32_t* bits = nullptr;
  std::int64_t bits_stride = 0;
};
void launch_lab_top_k_bits(const LabTopKParams& params, cudaStream_t stream);

// nsa's keys from its selected blocks: row i keeps j ≤ i when i + 1 ≤ window, when j is in i's own block, or when
// j's block is selected (block_bits, [rows, block_stride] words).
void launch_lab_nsa_bits(const LabChunk& chunk, int window, int block, const std::uint32_t* block_bits,
                         std::int64_t block_stride, std::uint32_t* bits, cudaStream_t stream);

// The gather kernel's inputs (kernels/lab_gather.cuh) from bit rows: per tile of kLabGatherTileRows rows, the union of
// its keys (tile_keys + t·chunk.keys, ascending; tile_key_count[t]) and per row its slot bits ([rows, chunk.words];
// zeroed here). word_offset: [2, tiles, chunk.words] scratch (each word's first slot, then the tile's union words).
void launch_lab_tile_lists(const LabChunk& chunk, const std::uint32_t* bits, std::int32_t* tile_keys,
                           std::int32_t* tile_key_count, std::uint32_t* word_offset, std::uint32_t* slot_bits,
                           cudaStream_t stream);

// Per row i: recall[i] = Σ_{kept j} probs_ij, kept[i] = |S_i|, error_sq[i] = ‖o_S − o_dense‖², reference_sq[i] =
// ‖o_dense‖² (the arrays are the head's, [L]; outputs [rows, d]). One CTA of 256 per row.
void launch_lab_row_metrics(const LabChunk& chunk, const std::uint32_t* bits, const float* probs,
                            const float* sparse_out, const float* dense_out, int head_dim, double* recall,
                            std::int32_t* kept, double* error_sq, double* reference_sq, cudaStream_t stream);

// Adds to *active the tile_rows × tile_cols tiles of the chunk (row tiles from the chunk's first row) in which some
// row keeps some key. One thread per tile.
void launch_lab_tile_activity(const LabChunk& chunk, const std::uint32_t* bits, int tile_rows, int tile_cols,
                              unsigned long long* active, cudaStream_t stream);

}  // namespace dmascope::cuda
