#include "kernels/lab_chunk.cuh"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <math_constants.h>

#include "kernels/cuda_check.h"
#include "kernels/lab_gather.cuh"

namespace dmascope::cuda {

namespace {

constexpr int kThreads = 256;

int blocks_for(std::int64_t items) { return static_cast<int>((items + kThreads - 1) / kThreads); }

__global__ void __launch_bounds__(kThreads)
    dense_rows_kernel(LabChunk chunk, float* scores, float* probs, const float* beta, float scale, bool with_bias,
                      int* non_finite) {
  using Reduce = cub::BlockReduce<float, kThreads>;
  __shared__ typename Reduce::TempStorage reduce_storage;
  __shared__ float shared_value;
  const int r = blockIdx.x, i = chunk.row_begin + r;
  float* s = scores + static_cast<std::int64_t>(r) * chunk.keys;
  float* p = probs + static_cast<std::int64_t>(r) * chunk.keys;
  float top = -CUDART_INF_F;
  for (int j = threadIdx.x; j <= i; j += kThreads) {
    const float qk = s[j] * scale;
    s[j] = qk + beta[j];
    const float logit = with_bias ? s[j] : qk;
    p[j] = logit;
    top = fmaxf(top, logit);
  }
  top = Reduce(reduce_storage).Reduce(top, [](float a, float b) { return fmaxf(a, b); });
  if (threadIdx.x == 0) shared_value = top;
  __syncthreads();
  top = shared_value;
  float sum = 0.0f;
  for (int j = threadIdx.x; j <= i; j += kThreads) {
    const float e = expf(p[j] - top);
    p[j] = e;
    sum += e;
  }
  __syncthreads();  // reduce_storage is reused
  sum = Reduce(reduce_storage).Sum(sum);
  if (threadIdx.x == 0) {
    shared_value = sum;
    if (!isfinite(top) || !isfinite(sum)) *non_finite = 1;
  }
  __syncthreads();
  const float inverse = 1.0f / shared_value;
  for (int j = threadIdx.x; j < chunk.keys; j += kThreads) p[j] = j <= i ? p[j] * inverse : 0.0f;
}

__device__ bool index_rule_keeps(const LabIndexBitsParams& p, int i, int j) {
  switch (p.rule) {
    case LabIndexRule::Death: return i < p.death[j];
    case LabIndexRule::Swa: return j >= i - p.window + 1;
    case LabIndexRule::Sinks: {
      if (i + 1 <= p.window) return true;
      const int sinks = min(4, p.window - 1);
      return j < sinks || j >= i - (p.window - sinks) + 1;
    }
    case LabIndexRule::Dam: {
      const int Lc = p.dam_capture;
      if (i < Lc) return p.dam_true_mask[static_cast<std::int64_t>(i) * Lc + j] != 0;
      const int offset = i - j;
      return (offset < Lc && p.dam_diagonal[offset] != 0) || (j < Lc && p.dam_vertical[j] != 0);
    }
  }
  return false;
}

__global__ void index_bits_kernel(LabIndexBitsParams p) {
  const std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (item >= static_cast<std::int64_t>(p.chunk.rows) * p.chunk.words) return;
  const int r = static_cast<int>(item / p.chunk.words), w = static_cast<int>(item % p.chunk.words);
  const int i = p.chunk.row_begin + r;
  std::uint32_t word = 0;
  for (int b = 0; b < 32; ++b) {
    const int j = w * 32 + b;
    if (j <= i && index_rule_keeps(p, i, j)) word |= 1u << b;
  }
  p.bits[item] = word;
}

// The radix order of a float: larger floats give larger keys; −0 counts as +0 and every NaN as the largest.
__device__ std::uint32_t order_key(float x) {
  if (x != x) return 0xffffffffu;
  if (x == 0.0f) x = 0.0f;
  const std::uint32_t u = __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__global__ void __launch_bounds__(kThreads) top_k_bits_kernel(LabTopKParams p) {
  __shared__ unsigned histogram[256];
  __shared__ std::uint32_t shared_prefix;
  __shared__ int shared_remaining;
  const int r = blockIdx.x, i = p.chunk.row_begin + r;
  const int n = max(0, (i + p.n_add) / p.n_divisor);
  const float* values = p.values + static_cast<std::int64_t>(r) * p.values_stride;
  std::uint32_t* bits = p.bits + static_cast<std::int64_t>(r) * p.bits_stride;
  const bool all = n <= p.top_k;
  std::uint32_t threshold = 0;
  int take = 0;  // ties at the threshold kept, in index order
  if (!all) {
    if (threadIdx.x == 0) shared_prefix = 0, shared_remaining = p.top_k;
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int b = threadIdx.x; b < 256; b += kThreads) histogram[b] = 0;
      __syncthreads();
      const std::uint32_t high_mask = shift == 24 ? 0u : (0xffffffffu << (shift + 8));
      const std::uint32_t prefix = shared_prefix;
      // Scores of one row share few exponents, so most of a warp's values fall in the same bin: the lanes with one
      // bin add their count once (uniform trip count across the CTA, so every lane reaches the match).
      const int lane = threadIdx.x % 32;
      for (int base = 0; base < n; base += kThreads) {
        const int j = base + threadIdx.x;
        const std::uint32_t u = j < n ? order_key(values[j]) : 0u;
        const bool counted = j < n && (u & high_mask) == prefix;
        const std::uint32_t bin = (u >> shift) & 255u;
        const std::uint32_t peers = __match_any_sync(0xffffffffu, counted ? bin : 256u + lane);
        if (counted && lane == __ffs(peers) - 1) atomicAdd(&histogram[bin], static_cast<unsigned>(__popc(peers)));
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        int remaining = shared_remaining, above = 0, chosen = 0;
        for (int b = 255; b >= 0; --b) {
          if (above + static_cast<int>(histogram[b]) >= remaining) {
            chosen = b;
            break;
          }
          above += static_cast<int>(histogram[b]);
        }
        shared_remaining = remaining - above;
        shared_prefix = prefix | (static_cast<std::uint32_t>(chosen) << shift);
      }
      __syncthreads();
    }
    threshold = shared_prefix;
    take = shared_remaining;
  }
  // One word per warp and step, lane b reading value 32·word + b (coalesced); the threshold's ties are kept in index
  // order, so each warp ranks its ties after those of the lower words (the earlier warps of the step, then `carry`).
  __shared__ int warp_ties[kThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int carry = 0;
  for (std::int64_t first = 0; first < p.bits_stride; first += kThreads / 32) {
    const std::int64_t w = first + warp;
    const std::int64_t j = w * 32 + lane;
    const bool in = w < p.bits_stride && j < n;
    const std::uint32_t u = in && !all ? order_key(values[j]) : 0u;
    const std::uint32_t tie_lanes = __ballot_sync(0xffffffffu, in && !all && u == threshold);
    if (lane == 0) warp_ties[warp] = __popc(tie_lanes);
    __syncthreads();
    int before = carry, step_total = 0;
    for (int other = 0; other < kThreads / 32; ++other) {
      if (other < warp) before += warp_ties[other];
      step_total += warp_ties[other];
    }
    const int rank = before + __popc(tie_lanes & ((1u << lane) - 1u));
    const bool keep = in && (all || u > threshold || (u == threshold && rank < take));
    const std::uint32_t word = __ballot_sync(0xffffffffu, keep);
    if (lane == 0 && w < p.bits_stride) bits[w] = word;
    carry += step_total;
    __syncthreads();  // warp_ties is read before the next step writes it
  }
}

__global__ void nsa_bits_kernel(LabChunk chunk, int window, int block, const std::uint32_t* block_bits,
                                std::int64_t block_stride, std::uint32_t* bits) {
  const std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (item >= static_cast<std::int64_t>(chunk.rows) * chunk.words) return;
  const int r = static_cast<int>(item / chunk.words), w = static_cast<int>(item % chunk.words);
  const int i = chunk.row_begin + r, local = i / block;
  const std::uint32_t* selected = block_bits + r * block_stride;
  std::uint32_t word = 0;
  for (int b = 0; b < 32; ++b) {
    const int j = w * 32 + b, blk = j / block;
    if (j > i) break;
    if (i + 1 <= window || blk == local || ((selected[blk / 32] >> (blk % 32)) & 1u)) word |= 1u << b;
  }
  bits[item] = word;
}

// One CTA per gather tile: the union of its rows' words, scanned in rounds of 256 words for each set bit's slot.
__global__ void __launch_bounds__(kThreads)
    tile_union_kernel(LabChunk chunk, const std::uint32_t* bits, std::int32_t* tile_keys, std::int32_t* tile_key_count,
                      std::uint32_t* word_offset, std::uint32_t* union_words) {
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage scan_storage;
  const int t = blockIdx.x, row0 = t * kLabGatherTileRows, row1 = min(chunk.rows, row0 + kLabGatherTileRows);
  std::int32_t* keys = tile_keys + static_cast<std::int64_t>(t) * chunk.keys;
  int carry = 0;
  for (int base = 0; base < chunk.words; base += kThreads) {
    const int w = base + threadIdx.x;
    std::uint32_t merged = 0;
    if (w < chunk.words)
      for (int r = row0; r < row1; ++r) merged |= bits[static_cast<std::int64_t>(r) * chunk.words + w];
    int before = 0, total = 0;
    Scan(scan_storage).ExclusiveSum(__popc(merged), before, total);
    __syncthreads();
    if (w < chunk.words) {
      word_offset[static_cast<std::int64_t>(t) * chunk.words + w] = static_cast<std::uint32_t>(carry + before);
      union_words[static_cast<std::int64_t>(t) * chunk.words + w] = merged;
      int slot = carry + before;
      for (std::uint32_t rest = merged; rest != 0; rest &= rest - 1) keys[slot++] = w * 32 + __ffs(rest) - 1;
    }
    carry += total;
  }
  if (threadIdx.x == 0) tile_key_count[t] = carry;
}

// One thread per (row, word): each kept key's slot in its tile's list is the word's offset plus the union's bits
// below it.
__global__ void row_slots_kernel(LabChunk chunk, const std::uint32_t* bits, const std::uint32_t* word_offset,
                                 const std::uint32_t* union_words, std::uint32_t* slot_bits) {
  const std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (item >= static_cast<std::int64_t>(chunk.rows) * chunk.words) return;
  const int r = static_cast<int>(item / chunk.words), w = static_cast<int>(item % chunk.words);
  const std::uint32_t word = bits[item];
  if (word == 0) return;
  const int t = r / kLabGatherTileRows;
  const std::uint32_t merged = union_words[static_cast<std::int64_t>(t) * chunk.words + w];
  const std::uint32_t offset = word_offset[static_cast<std::int64_t>(t) * chunk.words + w];
  std::uint32_t* out = slot_bits + static_cast<std::int64_t>(r) * chunk.words;
  for (std::uint32_t rest = word; rest != 0; rest &= rest - 1) {
    const int b = __ffs(rest) - 1;
    const std::uint32_t slot = offset + __popc(merged & ((1u << b) - 1u));
    atomicOr(&out[slot / 32], 1u << (slot % 32));
  }
}

__global__ void __launch_bounds__(kThreads)
    row_metrics_kernel(LabChunk chunk, const std::uint32_t* bits, const float* probs, const float* sparse_out,
                       const float* dense_out, int d, double* recall, std::int32_t* kept, double* error_sq,
                       double* reference_sq) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  using ReduceInt = cub::BlockReduce<int, kThreads>;
  __shared__ typename Reduce::TempStorage reduce_storage;
  __shared__ typename ReduceInt::TempStorage reduce_int_storage;
  const int r = blockIdx.x, i = chunk.row_begin + r;
  const std::uint32_t* row_bits = bits + static_cast<std::int64_t>(r) * chunk.words;
  const float* p = probs + static_cast<std::int64_t>(r) * chunk.keys;
  double mass = 0.0;
  int count = 0;
  for (int w = threadIdx.x; w < chunk.words; w += kThreads) {
    const std::uint32_t word = row_bits[w];
    count += __popc(word);
    for (std::uint32_t rest = word; rest != 0; rest &= rest - 1) mass += p[w * 32 + __ffs(rest) - 1];
  }
  double diff = 0.0, reference = 0.0;
  for (int c = threadIdx.x; c < d; c += kThreads) {
    const double o = dense_out[static_cast<std::int64_t>(r) * d + c];
    const double e = static_cast<double>(sparse_out[static_cast<std::int64_t>(r) * d + c]) - o;
    diff += e * e;
    reference += o * o;
  }
  mass = Reduce(reduce_storage).Sum(mass);
  __syncthreads();
  diff = Reduce(reduce_storage).Sum(diff);
  __syncthreads();
  reference = Reduce(reduce_storage).Sum(reference);
  count = ReduceInt(reduce_int_storage).Sum(count);
  if (threadIdx.x == 0) recall[i] = mass, kept[i] = count, error_sq[i] = diff, reference_sq[i] = reference;
}

__global__ void tile_activity_kernel(LabChunk chunk, const std::uint32_t* bits, int tile_rows, int tile_cols,
                                     int col_tiles, unsigned long long* active) {
  const std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int row_tiles = (chunk.rows + tile_rows - 1) / tile_rows;
  if (item >= static_cast<std::int64_t>(row_tiles) * col_tiles) return;
  const int rt = static_cast<int>(item / col_tiles), ct = static_cast<int>(item % col_tiles);
  const int row0 = rt * tile_rows, row1 = min(chunk.rows, row0 + tile_rows);
  const int col0 = ct * tile_cols, col1 = min(chunk.keys, col0 + tile_cols);
  if (col0 > chunk.row_begin + row1 - 1) return;  // past the causal edge: never active
  for (int r = row0; r < row1; ++r) {
    const std::uint32_t* row_bits = bits + static_cast<std::int64_t>(r) * chunk.words;
    for (int w = col0 / 32; w <= (col1 - 1) / 32; ++w) {
      const int lo = max(col0 - w * 32, 0), hi = min(col1 - w * 32, 32);  // bits [lo, hi) of this word
      const std::uint32_t mask = (hi == 32 ? 0xffffffffu : ((1u << hi) - 1u)) & ~((1u << lo) - 1u);
      if (row_bits[w] & mask) {
        atomicAdd(active, 1ull);
        return;
      }
    }
  }
}

}  // namespace

void launch_lab_dense_rows(const LabChunk& chunk, float* scores, float* probs, const float* beta, float scale,
                           bool with_bias, int* non_finite, cudaStream_t stream) {
  if (chunk.rows == 0) return;
  dense_rows_kernel<<<chunk.rows, kThreads, 0, stream>>>(chunk, scores, probs, beta, scale, with_bias, non_finite);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_lab_index_bits(const LabIndexBitsParams& params, cudaStream_t stream) {
  const std::int64_t items = static_cast<std::int64_t>(params.chunk.rows) * params.chunk.words;
  if (items == 0) return;
  index_bits_kernel<<<blocks_for(items), kThreads, 0, stream>>>(params);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_lab_top_k_bits(const LabTopKParams& params, cudaStream_t stream) {
  if (params.chunk.rows == 0) return;
  if (params.top_k < 1 || params.n_divisor < 1) detail::throw_kernel_error("lab top-k: top_k and n_divisor must be ≥ 1");
  top_k_bits_kernel<<<params.chunk.rows, kThreads, 0, stream>>>(params);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_lab_nsa_bits(const LabChunk& chunk, int window, int block, const std::uint32_t* block_bits,
                         std::int64_t block_stride, std::uint32_t* bits, cudaStream_t stream) {
  const std::int64_t items = static_cast<std::int64_t>(chunk.rows) * chunk.words;
  if (items == 0) return;
  nsa_bits_kernel<<<blocks_for(items), kThreads, 0, stream>>>(chunk, window, block, block_bits, block_stride, bits);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_lab_tile_lists(const LabChunk& chunk, const std::uint32_t* bits, std::int32_t* tile_keys,
                           std::int32_t* tile_key_count, std::uint32_t* word_offset, std::uint32_t* slot_bits,
                           cudaStream_t stream) {
  if (chunk.rows == 0) return;
  const int tiles = (chunk.rows + kLabGatherTileRows - 1) / kLabGatherTileRows;
  std::uint32_t* union_words = word_offset + static_cast<std::int64_t>(tiles) * chunk.words;
  tile_union_kernel<<<tiles, kThreads, 0, stream>>>(chunk, bits, tile_keys, tile_key_count, word_offset, union_words);
  DMASCOPE_CUDA_CHECK_LAUNCH();
  const std::int64_t items = static_cast<std::int64_t>(chunk.rows) * chunk.words;
  DMASCOPE_CUDA_CHECK(cudaMemsetAsync(slot_bits, 0, static_cast<std::size_t>(items) * 4, stream));
  row_slots_kernel<<<blocks_for(items), kThreads, 0, stream>>>(chunk, bits, word_offset, union_words, slot_bits);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_lab_row_metrics(const LabChunk& chunk, const std::uint32_t* bits, const float* probs,
                            const float* sparse_out, const float* dense_out, int head_dim, double* recall,
                            std::int32_t* kept, double* error_sq, double* reference_sq, cudaStream_t stream) {
  if (chunk.rows == 0) return;
  row_metrics_kernel<<<chunk.rows, kThreads, 0, stream>>>(chunk, bits, probs, sparse_out, dense_out, head_dim, recall,
                                                          kept, error_sq, reference_sq);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_lab_tile_activity(const LabChunk& chunk, const std::uint32_t* bits, int tile_rows, int tile_cols,
                              unsigned long long* active, cudaStream_t stream) {
  const int row_tiles = (chunk.rows + tile_rows - 1) / tile_rows, col_tiles = (chunk.keys + tile_cols - 1) / tile_cols;
  const std::int64_t items = static_cast<std::int64_t>(row_tiles) * col_tiles;
  if (items == 0) return;
  tile_activity_kernel<<<blocks_for(items), kThreads, 0, stream>>>(chunk, bits, tile_rows, tile_cols, col_tiles, active);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda
