// The DMA mask on the GPU in O(L) memory: death[j] for every key, exactly the CPU's dma_death_indices.
//
// Order keys by (β descending, index ascending) and call t = rank[j] their position in that order. Key j is kept on
// row i ≥ j while fewer than w better keys have index ≤ i, so
//     death[j] = max(j, D(t)),  D(t) = the w-th smallest key index among the t better keys (L if t < w).
// D(t) is a prefix order statistic of the sequence s_t = key at rank t, computed for all t in parallel:
//   1. a stable radix sort (CUB) of (segment, ~sortable(β)) gives s_t; rank[s_t] = t;
//   2. a table C[seg][tb][vb]: how many of s_0..s_{64·tb−1} fall into key bucket vb (buckets of S_v indices);
//   3. per key: walk the buckets, adding C and the few (< 64) elements of its own rank block that precede it, to find
//      the bucket holding the w-th smallest, then scan that bucket's keys for rank < t.
// Work per key O(V + 64 + S_v) with V ≈ √L buckets; memory O(L) plus the table (L/64 · V ints).
// That general path takes ~8 launches (the sort alone 5). For L ≤ 64K and w ≤ 4096 the chunked build below does the
// same in one launch, without a global sort (see "chunked build"); both equal the CPU bit for bit.
#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/cuda_check.h"
#include "kernels/mask_build.cuh"

namespace dmascope::cuda::detail {

namespace {

constexpr int kRankBlock = 64;  // ranks per table row and per query CTA

// A 32-bit key whose ascending order is β descending. NaN ranks first (torch.topk treats it as largest); −0 and +0
// tie, as they compare equal on the CPU. No β maps to 0xFFFFFFFF (that would be a NaN bit pattern), so the chunked
// build can pad with it.
__device__ __forceinline__ unsigned int rank_key(float value) {
  unsigned int ordered;
  if (isnan(value)) {
    ordered = 0xFFFFFFFFu;
  } else {
    if (value == 0.0f) value = 0.0f;
    const unsigned int bits = __float_as_uint(value);
    ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);  // monotone in the float value
  }
  return ~ordered;
}

// Ascending order of this key = (segment, β descending).
// Key type: 32 bits when there is one segment (half the bytes per radix pass), else segment in the high 32 bits.
template <class Key>
__global__ void make_sort_keys(const float* beta, long long total, int key_len, Key* keys, int* key_index) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const unsigned int key = rank_key(beta[i]);
  if constexpr (sizeof(Key) == 4) {
    keys[i] = key;
  } else {
    const unsigned long long segment = static_cast<unsigned long long>(i / key_len);
    keys[i] = (segment << 32) | static_cast<unsigned long long>(key);
  }
  key_index[i] = static_cast<int>(i % key_len);
}

__global__ void scatter_ranks(const int* sorted_keys, long long total, int key_len, int* rank) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const long long segment = i / key_len;
  rank[segment * key_len + sorted_keys[i]] = static_cast<int>(i % key_len);
}

// grid (T, segments), block kRankBlock: bucket histogram of each rank block. counts [seg][tb][vb].
__global__ void rank_block_histograms(const int* sorted_keys, int key_len, int rank_blocks, int buckets,
                                      int bucket_width, int* counts) {
  extern __shared__ int histogram[];
  const int tb = blockIdx.x, segment = blockIdx.y;
  for (int v = threadIdx.x; v < buckets; v += blockDim.x) histogram[v] = 0;
  __syncthreads();
  const int t = tb * kRankBlock + threadIdx.x;
  if (t < key_len) atomicAdd(&histogram[sorted_keys[static_cast<long long>(segment) * key_len + t] / bucket_width], 1);
  __syncthreads();
  int* row = counts + (static_cast<long long>(segment) * rank_blocks + tb) * buckets;
  for (int v = threadIdx.x; v < buckets; v += blockDim.x) row[v] = histogram[v];
}

// grid (V, segments), block 1024: exclusive prefix sum over tb of counts[seg][·][vb], in place.
__global__ void prefix_over_rank_blocks(int* counts, int rank_blocks, int buckets) {
  __shared__ int partial[1024];
  __shared__ int carry;
  const int v = blockIdx.x, segment = blockIdx.y;
  int* column = counts + static_cast<long long>(segment) * rank_blocks * buckets + v;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  for (int base = 0; base < rank_blocks; base += blockDim.x) {
    const int tb = base + threadIdx.x;
    const int value = tb < rank_blocks ? column[static_cast<long long>(tb) * buckets] : 0;
    partial[threadIdx.x] = value;
    __syncthreads();
    for (int offset = 1; offset < blockDim.x; offset *= 2) {  // Hillis–Steele inclusive scan
      const int add = threadIdx.x >= offset ? partial[threadIdx.x - offset] : 0;
      __syncthreads();
      partial[threadIdx.x] += add;
      __syncthreads();
    }
    if (tb < rank_blocks) column[static_cast<long long>(tb) * buckets] = carry + partial[threadIdx.x] - value;
    __syncthreads();
    if (threadIdx.x == blockDim.x - 1) carry += partial[threadIdx.x];
    __syncthreads();
  }
}

// grid (T, segments), block kRankBlock: one thread per rank t, computing death[s_t]. The CTA's table row (all of its
// threads share one rank block) is staged in shared memory once, so the bucket walk reads shared memory only.
__global__ void death_from_prefix_statistics(const int* sorted_keys, const int* rank, const int* counts, int key_len,
                                             int window, int rank_blocks, int buckets, int bucket_width, int* death) {
  extern __shared__ int table[];             // [buckets]: keys of ranks < 64·tb per bucket
  __shared__ int block_keys[kRankBlock];     // s_t of this rank block, sorted ascending by key index ...
  __shared__ int block_position[kRankBlock]; // ... with each one's position in the block
  const int tb = blockIdx.x, segment = blockIdx.y, r = threadIdx.x;
  const long long base = static_cast<long long>(segment) * key_len;
  const int t = tb * kRankBlock + r;
  const int* table_row = counts + (static_cast<long long>(segment) * rank_blocks + tb) * buckets;
  constexpr int kGroup = 16;
  const int groups = (buckets + kGroup - 1) / kGroup;
  __shared__ int group_sums[1024 / kGroup];  // buckets ≤ 1024
  for (int g = r; g < groups; g += kRankBlock) group_sums[g] = 0;
  block_keys[r] = t < key_len ? sorted_keys[base + t] : INT_MAX;
  block_position[r] = r;
  __syncthreads();
  for (int v = r; v < buckets; v += kRankBlock) {
    const int count = table_row[v];
    table[v] = count;
    atomicAdd(&group_sums[v / kGroup], count);
  }
  __syncthreads();
  for (int size = 2; size <= kRankBlock; size *= 2)  // bitonic sort of 64 (key, position) pairs by key
    for (int stride = size / 2; stride > 0; stride /= 2) {
      const int partner = r ^ stride;
      if (partner > r) {
        const bool ascending = (r & size) == 0;
        const int a = block_keys[r], b = block_keys[partner];
        if ((a > b) == ascending) {
          block_keys[r] = b;
          block_keys[partner] = a;
          const int p = block_position[r];
          block_position[r] = block_position[partner];
          block_position[partner] = p;
        }
      }
      __syncthreads();
    }
  if (t >= key_len) return;
  const int key = sorted_keys[base + t];
  if (t < window) {  // fewer than w better keys exist at all: kept from its own row to the end
    death[base + key] = key_len;
    return;
  }
  // Find the bucket holding the w-th smallest key index among ranks < t: skip whole groups of kGroup buckets while
  // they hold too few, then walk the group that crosses w bucket by bucket. The cursor over this rank block's own
  // (sorted) keys adds the ranks of the block that precede t.
  int below = 0, cursor = 0, bucket = 0;
  for (int group = 0; group < groups; ++group) {
    const int group_end = min(buckets, (group + 1) * kGroup) * bucket_width;
    int in_group = group_sums[group], skipped_cursor = cursor;
    for (; skipped_cursor < kRankBlock && block_keys[skipped_cursor] < group_end; ++skipped_cursor)
      in_group += block_position[skipped_cursor] < r;
    if (below + in_group >= window) {
      bucket = group * kGroup;
      break;
    }
    below += in_group;
    cursor = skipped_cursor;
    bucket = min(buckets, (group + 1) * kGroup);
  }
  for (; bucket < buckets; ++bucket) {
    int in_bucket = table[bucket];
    const int bucket_end = (bucket + 1) * bucket_width;
    for (; cursor < kRankBlock && block_keys[cursor] < bucket_end; ++cursor) in_bucket += block_position[cursor] < r;
    if (below + in_bucket >= window) break;
    below += in_bucket;
  }
  int needed = window - below;
  // Scan the bucket's keys in index order for the needed-th one ranked before t; loads go out 16 at a time so that
  // their latencies overlap.
  int answer = key_len;
  const int first = bucket * bucket_width, last = min(key_len, first + bucket_width);
  constexpr int kBatch = 16;
  for (int j0 = first; j0 < last && answer == key_len; j0 += kBatch) {
    int ranks[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) ranks[u] = j0 + u < last ? __ldg(rank + base + j0 + u) : INT_MAX;
#pragma unroll
    for (int u = 0; u < kBatch; ++u)
      if (answer == key_len && ranks[u] < t && --needed == 0) answer = j0 + u;
  }
  death[base + key] = max(key, answer);
}

__global__ void death_shared_topk(const int* rank, long long total, int key_len, int window, int* death) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  death[i] = rank[i] < window ? key_len : static_cast<int>(i % key_len);
}

__global__ void death_all_kept(long long total, int key_len, int* death) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i < total) death[i] = key_len;
}

// ---------------------------------------------------------------------------------------------- chunked build
//
// The rows of chunk c are [c·S, c·S + S) with S = kChunkKeys. A key kept on one of them either has its index in the
// chunk or was kept on row c·S − 1 (each key is kept on one contiguous run of rows), i.e. is one of the top-w keys of
// the prefix [0, c·S). So the chunk's rows are those of a small DMA problem: the n_I = min(w, c·S) prefix keys in
// index order, all present from the start, then the chunk's own keys; with local positions in that order, the local
// rank order (β desc, position asc) is the global one, and local position q ≥ n_I is global row c·S + q − n_I.
// One CTA per (chunk, segment):
//   1. finds the w-th best key of the prefix and compacts the prefix keys ranked at or before it, ascending (ties
//      taken in index order), into alive_index. Finding it: rank a sample of 512 prefix keys, take two pivots around the
//      expected rank (±4σ), count the keys below the lower one and collect those between the two into shared memory
//      (one ballot pass), then radix-select among those few; each warp's counts below and at the threshold then
//      follow from its candidates, and a second ballot pass writes the compacted keys. If the pivots miss (or too many
//      keys lie between them) the radix select and the counts run over the whole prefix instead: slower, same
//      result. Prefix passes read warp slices 32 steps of 32 keys ahead (they are bound by L2 latency);
//   2. block-radix-sorts the M = n_I + S local keys by (rank key, local position) — CUB's block sort is stable, and
//      positions go in ascending;
//   3. computes D(t), the w-th smallest local position among the t best local keys, for every local rank t ≥ w, from
//      64-bit masks over (rank block of 64) × (position bucket of 64): which ranks of the block lie in the bucket, and
//      which positions of the bucket are ranked in earlier blocks (a prefix OR): a walk over at most M/64 buckets by
//      popcount, then a bit select in one bucket — the sorted path's prefix statistic, in shared memory.
//      death = max(position, D(t)) (kept to the chunk's end when t < w);
//   4. writes death for the keys that die on the chunk's rows (never kept included). Keys alive past its last row are
//      in the next chunk's prefix set and written there, or written as L by the last chunk: one writer per key.
// Grid (ceil(L / S), segments), block kChunkThreads, dynamic shared memory sizeof(ChunkedShared<kItems>) (about 80 KB
// for w ≤ 1024, 190 KB for w ≤ 4096). β reads are O(c·S) for chunk c, O(L²/S) in all: the path is for L ≤ 64K.
// Measured on an H200 (bench/2026-12-01-h200/mask-build.md): the block sorts and the prefix passes dominate; every
// stage is latency-bound with one 16-warp CTA per SM.
constexpr int kChunkKeys = 1024;
constexpr int kChunkThreads = 512;
constexpr int kSelectBins = 2048;  // 11-bit digits
constexpr int kBinsPerThread = kSelectBins / kChunkThreads;
constexpr int kItemsSmall = 4;   // local keys per thread for w ≤ 1024
constexpr int kItemsLarge = 10;  // for w ≤ 4096

template <int kItems>
struct ChunkedShared {
  static constexpr int kLocalCapacity = kChunkThreads * kItems;        // M ≤ this
  static constexpr int kWindowCapacity = kLocalCapacity - kChunkKeys;  // w ≤ this
  static constexpr int kBlocks = kLocalCapacity / 64;                  // rank blocks = position buckets
  using Sort = cub::BlockRadixSort<unsigned int, kChunkThreads, kItems, int>;
  using Scan = cub::BlockScan<unsigned long long, kChunkThreads>;
  struct Selection {
    int histogram[kSelectBins];
    typename Scan::TempStorage scan;
  };
  struct Sample {
    unsigned int keys[kChunkThreads];    // one prefix key per thread, evenly spaced
    unsigned int sorted[kChunkThreads];  // the same, ascending
  };
  union Scratch {  // the sample, the selection (step 1) and the sort (step 2) never overlap
    typename Sort::TempStorage sort;
    Selection selection;
    Sample sample;
  };
  Scratch scratch;
  int alive_index[kWindowCapacity];               // prefix keys kept on the chunk's first row, ascending
  // Step 1: candidate rank keys. Steps 2–4: local rank → local position.
  static constexpr int kCandidateCapacity = 2 * kLocalCapacity > 8192 ? 2 * kLocalCapacity : 8192;
  int position_rank[kCandidateCapacity];
  unsigned char candidate_warp[kCandidateCapacity];  // step 1: the warp whose slice holds each candidate
  unsigned long long members[kBlocks * kBlocks];  // [rank block][bucket]: bit r % 64 set when rank r is in the bucket
  // [rank block][bucket]: bit p % 64 set when position p of the bucket has a rank in an earlier rank block
  unsigned long long earlier_positions[kBlocks * kBlocks];
};

// Block-wide radix select over the keys for_each_key visits, which all share the bits of `threshold` above bit
// `top_bits` (the rest of threshold is 0): narrows (threshold, needed) — on entry needed is the 1-based rank of the
// wanted key — to the wanted key and its 1-based rank among the keys equal to it, in digit passes of up to 11 bits
// from bit top_bits down. for_each_key(count) calls count(rank_key, valid) for every key, all lanes of a warp together.
template <class Shared, class ForEachKey>
__device__ void radix_select_rank_key(Shared& sh, unsigned int& threshold, int& needed, int top_bits,
                                      ForEachKey for_each_key) {
  __shared__ unsigned int selected_digit;
  __shared__ int keys_before_digit;
  const int tid = threadIdx.x, lane = tid & 31;
  int* histogram = sh.scratch.selection.histogram;
  for (int remaining = top_bits; remaining > 0;) {
    const int bits = min(11, remaining);
    const int shift = remaining - bits;
    remaining = shift;
    const unsigned int high_mask = shift + bits >= 32 ? 0u : ~0u << (shift + bits);
    for (int v = tid; v < kSelectBins; v += kChunkThreads) histogram[v] = 0;
    __syncthreads();
    // Lanes with equal digits add once: tied β (common in bf16) would otherwise hit one address 32 times.
    for_each_key([&](unsigned int key, bool valid) {
      const bool counted = valid && (key & high_mask) == threshold;
      const unsigned int digit = counted ? (key >> shift) & ((1u << bits) - 1) : 0xFFFFFFFFu;
      const unsigned int peers = __match_any_sync(0xFFFFFFFFu, digit);
      if (counted && lane == __ffs(peers) - 1) atomicAdd(&histogram[digit], __popc(peers));
    });
    __syncthreads();
    // The bin holding the needed-th key; each thread owns kBinsPerThread neighbouring bins.
    int bins[kBinsPerThread], bins_total = 0;
#pragma unroll
    for (int b = 0; b < kBinsPerThread; ++b) bins_total += bins[b] = histogram[kBinsPerThread * tid + b];
    unsigned long long before_wide = 0;
    typename Shared::Scan(sh.scratch.selection.scan)
        .ExclusiveSum(static_cast<unsigned long long>(bins_total), before_wide);
    int before = static_cast<int>(before_wide);
    if (before < needed && needed <= before + bins_total) {
#pragma unroll
      for (int b = 0; b < kBinsPerThread; ++b) {
        if (needed <= before + bins[b]) {
          selected_digit = kBinsPerThread * tid + b;
          keys_before_digit = before;
          break;
        }
        before += bins[b];
      }
    }
    __syncthreads();
    threshold |= selected_digit << shift;
    needed -= keys_before_digit;
    __syncthreads();  // selected_digit, the histogram and the scan storage are reused by the next pass
  }
}

template <int kItems>
__global__ void __launch_bounds__(kChunkThreads, 1)
    death_by_chunks(const float* beta_all, int key_len, int window, int* death_all, int stop_after_stage) {
  using Shared = ChunkedShared<kItems>;
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  Shared& sh = *reinterpret_cast<Shared*>(shared_bytes);
  __shared__ unsigned int pivot_lo, pivot_hi;
  __shared__ int below_lo, candidate_count;
  __shared__ int warp_smaller[kChunkThreads / 32 + 1], warp_equal[kChunkThreads / 32 + 1], warp_below[kChunkThreads / 32];
  const int tid = threadIdx.x, lane = tid & 31;
  const int chunk_first = blockIdx.x * kChunkKeys, segment = blockIdx.y;
  const float* beta = beta_all + static_cast<long long>(segment) * key_len;
  int* death = death_all + static_cast<long long>(segment) * key_len;
  const int prefix_len = chunk_first;
  const int alive_count = min(window, prefix_len);  // n_I
  const int chunk_len = min(kChunkKeys, key_len - chunk_first);
  const int local_len = alive_count + chunk_len;  // M
  const int blocks = (local_len + 63) / 64;
  if (stop_after_stage == 0) return;
  for (int i = tid; i < blocks * blocks; i += kChunkThreads) sh.members[i] = sh.earlier_positions[i] = 0;

  // 1. The prefix keys kept on row chunk_first − 1: all of them while the prefix holds at most w keys.
  if (prefix_len <= window) {
    for (int j = tid; j < prefix_len; j += kChunkThreads) sh.alive_index[j] = j;
  } else {
    constexpr int kWarps = kChunkThreads / 32, kStepsAhead = 32;
    const int warp = tid >> 5;
    const unsigned int lanes_below = (1u << lane) - 1;
    // Warp slices of the prefix, read 32 steps of 32 keys ahead (the passes are bound by L2 latency otherwise).
    const int slice = ((prefix_len + kWarps - 1) / kWarps + 31) / 32 * 32;
    const int begin = min(prefix_len, warp * slice), end = min(prefix_len, begin + slice);
    auto load_keys = [&](int base, unsigned int (&keys)[kStepsAhead]) {
#pragma unroll
      for (int step = 0; step < kStepsAhead; ++step) {
        const int j = base + 32 * step + lane;
        keys[step] = j < end ? rank_key(__ldg(beta + j)) : 0xFFFFFFFFu;  // never below or at a threshold
      }
    };

    // (a) Pivots from a sample of kChunkThreads evenly spaced prefix keys, ordered by counting (each thread ranks its
    //     key against all others in shared memory; a block sort costs more here): lo and hi bracket the w-th smallest
    //     key with a margin of 4 standard deviations plus 4 sample ranks. They need not be exact: the pass below checks.
    {
      unsigned int* sample = sh.scratch.sample.keys;
      const unsigned int mine = rank_key(__ldg(beta + static_cast<int>(static_cast<long long>(tid) * prefix_len / kChunkThreads)));
      sample[tid] = mine;
      __syncthreads();
      int sample_rank = 0;
      for (int k = 0; k < kChunkThreads; ++k) {
        const unsigned int other = sample[k];
        sample_rank += other < mine || (other == mine && k < tid);
      }
      sh.scratch.sample.sorted[sample_rank] = mine;
      __syncthreads();
      const float expected = static_cast<float>(window) * kChunkThreads / prefix_len;
      const float margin = 4.0f * sqrtf(expected) + 4.0f;
      const int lo_rank = static_cast<int>(floorf(expected - margin));
      const int hi_rank = static_cast<int>(ceilf(expected + margin));
      if (tid == 0) {
        pivot_lo = lo_rank < 0 ? 0u : sh.scratch.sample.sorted[lo_rank];
        pivot_hi = hi_rank >= kChunkThreads ? 0xFFFFFFFEu : sh.scratch.sample.sorted[hi_rank];  // ≥ every β's key
        below_lo = 0;
        candidate_count = 0;
      }
    }
    __syncthreads();
    if (stop_after_stage == 1) return;
    const unsigned int lo = pivot_lo, hi = pivot_hi;

    // (b) One pass: count the keys below lo, and append those in [lo, hi] to the candidate buffer (order is free).
    unsigned int* candidates = reinterpret_cast<unsigned int*>(sh.position_rank);
    {
      int below = 0;
      for (int base = begin; base < end; base += 32 * kStepsAhead) {
        unsigned int keys[kStepsAhead];
        load_keys(base, keys);
#pragma unroll
        for (int step = 0; step < kStepsAhead; ++step) {
          below += __popc(__ballot_sync(0xFFFFFFFFu, keys[step] < lo));
          const bool candidate = keys[step] >= lo && keys[step] <= hi;
          const unsigned int candidate_lanes = __ballot_sync(0xFFFFFFFFu, candidate);
          if (candidate_lanes == 0) continue;
          int first = 0;
          if (lane == 0) first = atomicAdd(&candidate_count, __popc(candidate_lanes));
          first = __shfl_sync(0xFFFFFFFFu, first, 0);
          const int slot = first + __popc(candidate_lanes & lanes_below);
          if (candidate && slot < Shared::kCandidateCapacity) {
            candidates[slot] = keys[step];
            sh.candidate_warp[slot] = static_cast<unsigned char>(warp);
          }
        }
      }
      if (lane == 0) {
        atomicAdd(&below_lo, below);
        warp_below[warp] = below;
      }
    }
    __syncthreads();
    if (stop_after_stage == 2) return;
    const int below = below_lo, candidates_found = candidate_count;

    // (c) The w-th smallest key (threshold) and how many keys equal to it are taken (needed, in index order).
    unsigned int threshold = 0;
    int needed = window;
    const bool bracketed = below < window && window <= below + candidates_found;
    if (bracketed && lo == hi) {  // one value tied over the whole margin: it is the threshold
      threshold = lo;
      needed = window - below;
    } else if (bracketed && candidates_found <= Shared::kCandidateCapacity) {
      needed = window - below;
      const int top_bits = 32 - __clz(lo ^ hi);  // every candidate shares lo's bits above this
      threshold = top_bits >= 32 ? 0u : lo & (~0u << top_bits);
      radix_select_rank_key<Shared>(
          sh, threshold, needed, top_bits, [&](auto&& count) {
            for (int base = 0; base < candidates_found; base += kChunkThreads) {
              const int i = base + tid;
              count(i < candidates_found ? candidates[i] : 0u, i < candidates_found);
            }
          });
    } else {  // the pivots missed (or too many keys between them): select over the whole prefix
      const int head =
          min(prefix_len, static_cast<int>((4 - ((reinterpret_cast<unsigned long long>(beta) >> 2) & 3)) & 3));
      const int vectors = (prefix_len - head) >> 2;
      const int tail_begin = head + 4 * vectors;
      const float4* body = reinterpret_cast<const float4*>(beta + head);
      radix_select_rank_key<Shared>(sh, threshold, needed, 32, [&](auto&& count) {
        {  // the scalars outside the 16-byte vectors: threads 0..2 take the head, threads 4..6 the tail
          const bool in_head = tid < head;
          const bool in_tail = tid >= 4 && tid < 8 && tail_begin + tid - 4 < prefix_len;
          const float value = in_head ? __ldg(beta + tid) : in_tail ? __ldg(beta + tail_begin + tid - 4) : 0.0f;
          count(rank_key(value), in_head || in_tail);
        }
        constexpr int kVectorsAhead = 4;
        for (int base = 0; base < vectors; base += kVectorsAhead * kChunkThreads) {
          float4 ahead[kVectorsAhead];
#pragma unroll
          for (int u = 0; u < kVectorsAhead; ++u) {
            const int i = base + u * kChunkThreads + tid;
            ahead[u] = i < vectors ? __ldg(body + i) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
          }
#pragma unroll
          for (int u = 0; u < kVectorsAhead; ++u) {
            const bool valid = base + u * kChunkThreads + tid < vectors;
            count(rank_key(ahead[u].x), valid);
            count(rank_key(ahead[u].y), valid);
            count(rank_key(ahead[u].z), valid);
            count(rank_key(ahead[u].w), valid);
          }
        }
      });
    }

    if (stop_after_stage == 3) return;
    // (d) Ordered compaction of the prefix keys ranked at or before the w-th: a smaller rank key, or an equal one among
    //     the first `needed` equal keys in index order. One pass counts per warp slice (ballots), a prefix over the
    //     warps gives each slice its slot and its count of earlier equal keys, a second pass writes.
    //     When the threshold lies in [lo, hi] and every candidate was kept, a slice's counts follow from its count
    //     below lo and its candidates, without reading the prefix again.
    int smaller = 0, equal = 0;
    if (bracketed && candidates_found <= Shared::kCandidateCapacity) {
      smaller = warp_below[warp];
      for (int base = 0; base < candidates_found; base += 32) {
        const int i = base + lane;
        const bool mine = i < candidates_found && sh.candidate_warp[i] == warp;
        const unsigned int key = mine ? candidates[i] : 0xFFFFFFFFu;
        smaller += __popc(__ballot_sync(0xFFFFFFFFu, key < threshold));
        equal += __popc(__ballot_sync(0xFFFFFFFFu, key == threshold));
      }
    } else {
      for (int base = begin; base < end; base += 32 * kStepsAhead) {
        unsigned int keys[kStepsAhead];
        load_keys(base, keys);
#pragma unroll
        for (int step = 0; step < kStepsAhead; ++step) {
          smaller += __popc(__ballot_sync(0xFFFFFFFFu, keys[step] < threshold));
          equal += __popc(__ballot_sync(0xFFFFFFFFu, keys[step] == threshold));
        }
      }
    }
    if (lane == 0) {
      warp_smaller[warp + 1] = smaller;
      warp_equal[warp + 1] = equal;
    }
    __syncthreads();
    if (tid == 0) {
      warp_smaller[0] = warp_equal[0] = 0;
      for (int w = 1; w <= kWarps; ++w) {
        warp_smaller[w] += warp_smaller[w - 1];
        warp_equal[w] += warp_equal[w - 1];
      }
    }
    __syncthreads();
    int equal_rank = warp_equal[warp];  // equal keys before this lane's current one
    int slot = warp_smaller[warp] + min(equal_rank, needed);
    for (int base = begin; base < end; base += 32 * kStepsAhead) {
      unsigned int keys[kStepsAhead];
      load_keys(base, keys);
#pragma unroll
      for (int step = 0; step < kStepsAhead; ++step) {
        const unsigned int equal_lanes = __ballot_sync(0xFFFFFFFFu, keys[step] == threshold);
        const bool take = keys[step] < threshold ||
                          (keys[step] == threshold && equal_rank + __popc(equal_lanes & lanes_below) < needed);
        const unsigned int taken = __ballot_sync(0xFFFFFFFFu, take);
        if (take) sh.alive_index[slot + __popc(taken & lanes_below)] = base + 32 * step + lane;
        slot += __popc(taken);
        equal_rank += __popc(equal_lanes);
      }
    }
  }
  __syncthreads();
  int* sorted_position = sh.position_rank;                       // local rank → local position

  // 2. Sort the local keys; padding (rank key 0xFFFFFFFF, which no β has) sorts after them.
  unsigned int keys[kItems];
  int positions[kItems];
#pragma unroll
  for (int u = 0; u < kItems; ++u) {
    const int q = tid * kItems + u;
    positions[u] = q;
    keys[u] = q < alive_count  ? rank_key(__ldg(beta + sh.alive_index[q]))
              : q < local_len ? rank_key(__ldg(beta + chunk_first + q - alive_count))
                              : 0xFFFFFFFFu;
  }
  if (stop_after_stage == 4) return;
  typename Shared::Sort(sh.scratch.sort).Sort(keys, positions);
#pragma unroll
  for (int u = 0; u < kItems; ++u) {  // blocked arrangement: this thread holds ranks tid·kItems + u
    const int r = tid * kItems + u;
    if (r < local_len) {
      sorted_position[r] = positions[u];
      atomicOr(&sh.members[(r >> 6) * blocks + (positions[u] >> 6)], 1ull << (r & 63));
      atomicOr(&sh.earlier_positions[(r >> 6) * blocks + (positions[u] >> 6)], 1ull << (positions[u] & 63));
    }
  }
  __syncthreads();

  if (stop_after_stage == 5) return;
  // 3. The prefix table: earlier_positions[rb][bucket] so far holds the bucket's positions ranked inside block rb;
  //    an exclusive prefix OR over rb makes it the positions ranked before block rb (its popcount is the prefix count).
  for (int bucket = tid; bucket < blocks; bucket += kChunkThreads) {
    unsigned long long running = 0;
    for (int rb = 0; rb < blocks; ++rb) {
      const unsigned long long in_block = sh.earlier_positions[rb * blocks + bucket];
      sh.earlier_positions[rb * blocks + bucket] = running;
      running |= in_block;
    }
  }
  __syncthreads();

  if (stop_after_stage == 6) return;
  // 4. Death of the key at each local rank.
  const bool last_chunk = chunk_first + chunk_len == key_len;
  for (int t = tid; t < local_len; t += kChunkThreads) {
    const int position = sorted_position[t];
    int local_death = local_len;  // kept past the chunk's last row
    if (t >= window) {            // t better keys exist, so the w-th smallest position among them does
      const unsigned long long* earlier_row = sh.earlier_positions + (t >> 6) * blocks;
      const unsigned long long* member_row = sh.members + (t >> 6) * blocks;
      const unsigned long long earlier_in_block = (1ull << (t & 63)) - 1;
      // Walk the buckets, counting the positions ranked before t, to the one that holds the w-th.
      int counted = 0, bucket = 0;
      for (; bucket < blocks - 1; ++bucket) {
        const int in_bucket = __popcll(earlier_row[bucket]) + __popcll(member_row[bucket] & earlier_in_block);
        if (counted + in_bucket >= window) break;
        counted += in_bucket;
      }
      // That bucket's positions ranked before t: those of earlier rank blocks, plus those of t's own block before t.
      unsigned long long ranked_before = earlier_row[bucket];
      for (unsigned long long own = member_row[bucket] & earlier_in_block; own != 0; own &= own - 1)
        ranked_before |= 1ull << (sorted_position[((t >> 6) << 6) + __ffsll(own) - 1] & 63);
      int needed = window - counted, offset = 0;  // select the needed-th set bit
#pragma unroll
      for (int width = 32; width >= 1; width >>= 1) {
        const int low = __popcll(ranked_before & ((1ull << width) - 1));
        if (needed > low) {
          needed -= low;
          ranked_before >>= width;
          offset += width;
        }
      }
      local_death = max(position, bucket * 64 + offset);
    }
    const int key = position < alive_count ? sh.alive_index[position] : chunk_first + position - alive_count;
    if (local_death < local_len)
      death[key] = chunk_first + local_death - alive_count;
    else if (last_chunk)
      death[key] = key_len;
  }
}

template <int kItems>
bool chunked_build_fits_device() {
  static const bool fits = [] {
    int device = 0, optin = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    if (static_cast<std::size_t>(optin) < sizeof(ChunkedShared<kItems>)) return false;
    return cudaFuncSetAttribute(death_by_chunks<kItems>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                static_cast<int>(sizeof(ChunkedShared<kItems>))) == cudaSuccess;
  }();
  return fits;
}

template <int kItems>
void launch_death_by_chunks(const MaskBuildPlan& plan, const float* beta, int* death, cudaStream_t stream) {
  // DMASCOPE_CHUNKED_STOP_AFTER=n (profiling only; the result is then incomplete): return after stage n of the kernel,
  // 1 sample sort, 2 candidate pass, 3 selection, 4 compaction, 5 local sort, 6 table, 0 at once. Timing these
  // prefixes places the kernel's time without hardware counters.
  static const int stop_after_stage = [] {
    const char* value = std::getenv("DMASCOPE_CHUNKED_STOP_AFTER");
    return value ? std::atoi(value) : -1;
  }();
  const dim3 grid((plan.key_len + kChunkKeys - 1) / kChunkKeys, plan.segments);
  death_by_chunks<kItems><<<grid, kChunkThreads, sizeof(ChunkedShared<kItems>), stream>>>(
      beta, plan.key_len, plan.window, death, stop_after_stage);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

static_assert(ChunkedShared<kItemsLarge>::kWindowCapacity == kChunkedMaxWindow, "w ≤ kChunkedMaxWindow fits the larger layout");
static_assert(sizeof(ChunkedShared<kItemsLarge>) <= 227 * 1024, "the larger layout fits a Hopper CTA's shared memory");

int blocks_for(long long items, int threads) { return static_cast<int>((items + threads - 1) / threads); }

struct Workspace {
  unsigned long long* keys_in;
  unsigned long long* keys_out;
  int* index_in;
  int* sorted_keys;
  int* rank;
  int* counts;
  void* cub_temp;
  std::size_t cub_bytes;
};

int end_bit_for(int segments) {
  int bits = 0;
  while ((1LL << bits) < segments) ++bits;
  return 32 + bits;
}

std::size_t cub_temp_bytes(const MaskBuildPlan& plan) {
  std::size_t bytes = 0;
  const long long total = static_cast<long long>(plan.segments) * plan.key_len;
  if (plan.segments == 1)
    DMASCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<unsigned*>(nullptr),
                                                        static_cast<unsigned*>(nullptr), static_cast<int*>(nullptr),
                                                        static_cast<int*>(nullptr), total, 0, 32));
  else
    DMASCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<unsigned long long*>(nullptr),
                                                        static_cast<unsigned long long*>(nullptr),
                                                        static_cast<int*>(nullptr), static_cast<int*>(nullptr), total,
                                                        0, end_bit_for(plan.segments)));
  return bytes;
}

std::size_t align_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

Workspace carve(const MaskBuildPlan& plan, void* memory) {
  const std::size_t total = static_cast<std::size_t>(plan.segments) * plan.key_len;
  auto* cursor = static_cast<char*>(memory);
  Workspace w;
  auto take = [&](std::size_t bytes) {
    void* p = cursor;
    cursor += align_up(bytes);
    return p;
  };
  w.keys_in = static_cast<unsigned long long*>(take(total * 8));
  w.keys_out = static_cast<unsigned long long*>(take(total * 8));
  w.index_in = static_cast<int*>(take(total * 4));
  w.sorted_keys = static_cast<int*>(take(total * 4));
  w.rank = static_cast<int*>(take(total * 4));
  w.counts = static_cast<int*>(take(static_cast<std::size_t>(plan.segments) * plan.rank_blocks * plan.value_buckets * 4));
  w.cub_bytes = cub_temp_bytes(plan);
  w.cub_temp = take(w.cub_bytes);
  return w;
}

}  // namespace

MaskBuildPlan make_mask_build_plan(int segments, int key_len, int window, MaskVariant variant) {
  MaskBuildPlan plan;
  plan.segments = segments;
  plan.key_len = key_len;
  plan.window = window;
  plan.variant = variant;
  const char* forced = std::getenv("DMASCOPE_MASK_BUILD");  // "sort": the general path, for before/after timings
  const bool sort_forced = forced && std::strcmp(forced, "sort") == 0;
  if (window >= key_len)
    plan.method = MaskBuildMethod::AllKept;
  else if (!sort_forced && variant == MaskVariant::PerRowTopK && key_len <= kChunkedMaxKeys &&
           window <= kChunkedMaxWindow && (window <= ChunkedShared<kItemsSmall>::kWindowCapacity ? chunked_build_fits_device<kItemsSmall>()
                                                                                         : chunked_build_fits_device<kItemsLarge>()))
    plan.method = MaskBuildMethod::Chunked;
  int buckets = 32;
  while (buckets < 1024 && static_cast<long long>(buckets) * buckets < key_len) buckets *= 2;
  plan.bucket_width = std::max(1, (key_len + buckets - 1) / buckets);
  plan.value_buckets = (key_len + plan.bucket_width - 1) / plan.bucket_width;
  plan.rank_blocks = (key_len + kRankBlock - 1) / kRankBlock;
  return plan;
}

std::size_t mask_build_workspace_bytes(const MaskBuildPlan& plan) {
  if (plan.method != MaskBuildMethod::SortedPrefixStatistics) return 0;
  const std::size_t total = static_cast<std::size_t>(plan.segments) * plan.key_len;
  return align_up(total * 8) * 2 + align_up(total * 4) * 3 +
         align_up(static_cast<std::size_t>(plan.segments) * plan.rank_blocks * plan.value_buckets * 4) +
         align_up(cub_temp_bytes(plan)) + 256;
}

void launch_mask_build(const MaskBuildPlan& plan, const float* beta, std::int32_t* death, void* workspace,
                       cudaStream_t stream) {
  const long long total = static_cast<long long>(plan.segments) * plan.key_len;
  if (total == 0) return;
  constexpr int kThreads = 256;
  if (plan.window >= plan.key_len) {  // every key kept on every row it may see: dense causal
    death_all_kept<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(total, plan.key_len, death);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    return;
  }
  if (plan.method == MaskBuildMethod::Chunked) {
    if (plan.window <= ChunkedShared<kItemsSmall>::kWindowCapacity)
      launch_death_by_chunks<kItemsSmall>(plan, beta, death, stream);
    else
      launch_death_by_chunks<kItemsLarge>(plan, beta, death, stream);
    return;
  }
  Workspace w = carve(plan, workspace);
  std::size_t cub_bytes = w.cub_bytes;
  if (plan.segments == 1) {
    auto* keys_in = reinterpret_cast<unsigned*>(w.keys_in);
    auto* keys_out = reinterpret_cast<unsigned*>(w.keys_out);
    make_sort_keys<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(beta, total, plan.key_len, keys_in, w.index_in);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    DMASCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(w.cub_temp, cub_bytes, keys_in, keys_out, w.index_in,
                                                        w.sorted_keys, total, 0, 32, stream));
  } else {
    make_sort_keys<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(beta, total, plan.key_len, w.keys_in,
                                                                         w.index_in);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    DMASCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(w.cub_temp, cub_bytes, w.keys_in, w.keys_out, w.index_in,
                                                        w.sorted_keys, total, 0, end_bit_for(plan.segments), stream));
  }
  scatter_ranks<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(w.sorted_keys, total, plan.key_len, w.rank);
  DMASCOPE_CUDA_CHECK_LAUNCH();
  if (plan.variant == MaskVariant::SharedTopK) {
    death_shared_topk<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(w.rank, total, plan.key_len, plan.window,
                                                                            death);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    return;
  }
  const dim3 rank_grid(plan.rank_blocks, plan.segments);
  rank_block_histograms<<<rank_grid, kRankBlock, plan.value_buckets * sizeof(int), stream>>>(
      w.sorted_keys, plan.key_len, plan.rank_blocks, plan.value_buckets, plan.bucket_width, w.counts);
  DMASCOPE_CUDA_CHECK_LAUNCH();
  prefix_over_rank_blocks<<<dim3(plan.value_buckets, plan.segments), 1024, 0, stream>>>(w.counts, plan.rank_blocks,
                                                                                       plan.value_buckets);
  DMASCOPE_CUDA_CHECK_LAUNCH();
  death_from_prefix_statistics<<<rank_grid, kRankBlock, plan.value_buckets * sizeof(int), stream>>>(
      w.sorted_keys, w.rank, w.counts, plan.key_len, plan.window, plan.rank_blocks, plan.value_buckets,
      plan.bucket_width, death);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

namespace {

// grid (q_tiles, segments), block 256: ordered compaction of the keys kept by some row of the tile. Each warp owns a
// contiguous slice of [0, p_last]: it counts its kept keys with ballots (no block barrier), one block-wide scan of the
// 8 warp counts gives each slice its output offset, and a second pass writes the indices in ascending order.
__global__ void gather_lists_kernel(const int* death, int q_len, int key_len, int q_tiles, int capacity, int* lists,
                                    int* counts) {
  constexpr int kWarps = 8;
  __shared__ int warp_offset[kWarps + 1];
  const int qt = blockIdx.x, segment = blockIdx.y;
  const int offset = key_len - q_len;
  const int p0 = offset + qt * 64, p_last = offset + min(q_len, qt * 64 + 64) - 1;
  const int* segment_death = death + static_cast<long long>(segment) * key_len;
  int* list = lists + (static_cast<long long>(segment) * q_tiles + qt) * capacity;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int slice = ((p_last + 1 + kWarps - 1) / kWarps + 31) / 32 * 32;
  const int begin = warp * slice, end = min(p_last + 1, begin + slice);
  auto kept = [&](int j) { return j < end && __ldg(segment_death + j) > max(j, p0); };
  int warp_count = 0;
  for (int base = begin; base < end; base += 32) warp_count += __popc(__ballot_sync(0xFFFFFFFFu, kept(base + lane)));
  if (lane == 0) warp_offset[warp + 1] = warp_count;
  __syncthreads();
  if (threadIdx.x == 0) {
    warp_offset[0] = 0;
    for (int w = 1; w <= kWarps; ++w) warp_offset[w] += warp_offset[w - 1];
    counts[static_cast<long long>(segment) * q_tiles + qt] = min(warp_offset[kWarps], capacity);
  }
  __syncthreads();
  int slot = warp_offset[warp];
  for (int base = begin; base < end; base += 32) {
    const bool keep = kept(base + lane);
    const unsigned ballot = __ballot_sync(0xFFFFFFFFu, keep);
    const int mine = slot + __popc(ballot & ((1u << lane) - 1));
    if (keep && mine < capacity) list[mine] = base + lane;
    slot += __popc(ballot);
  }
}

// grid (ceil(q_tiles / 16), segments), block 16 warps, dynamic shared memory capacity · 8 bytes + 4 KB: the same
// lists as gather_lists_kernel for a top-w death array. A key kept on some row of a tile that starts at or after the
// CTA's first row r0 either has index ≥ r0 or is kept on row r0 (its rows are one contiguous run), and at most w keys
// are kept on a row. So the CTA first collects, once, the keys j < r0 with death_j > r0 (ascending, with their deaths:
// warp slices read 16 steps ahead and counted with ballots, then written at scanned offsets) and stages the deaths of
// its own 1024 rows' keys; then warp u builds tile u's list from those — O(w + 1024) tests per tile instead of O(L).
constexpr int kGatherChunkTiles = 16;
constexpr int kGatherChunkRows = kGatherChunkTiles * 64;
__global__ void __launch_bounds__(kGatherChunkTiles * 32)
    gather_lists_by_chunks(const int* death, int q_len, int key_len, int q_tiles, int capacity, int* lists,
                           int* counts) {
  constexpr int kWarps = kGatherChunkTiles, kStepsAhead = 16;
  extern __shared__ int2 alive[];  // [capacity]: (key, death) of keys before first_row kept after it
  __shared__ int chunk_death[kGatherChunkRows];  // death of keys first_row + i
  __shared__ int warp_offset[kWarps + 1];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int first_tile = blockIdx.x * kGatherChunkTiles, segment = blockIdx.y;
  const int offset = key_len - q_len;
  const int first_row = offset + first_tile * 64;
  const int chunk_rows = min(kGatherChunkRows, key_len - first_row);
  const int* segment_death = death + static_cast<long long>(segment) * key_len;
  const unsigned int lanes_below = (1u << lane) - 1;

  for (int i = threadIdx.x; i < chunk_rows; i += blockDim.x) chunk_death[i] = __ldg(segment_death + first_row + i);
  const int slice = ((first_row + kWarps - 1) / kWarps + 31) / 32 * 32;
  const int begin = min(first_row, warp * slice), end = min(first_row, begin + slice);
  auto load_deaths = [&](int base, int (&deaths)[kStepsAhead]) {
#pragma unroll
    for (int step = 0; step < kStepsAhead; ++step) {
      const int j = base + 32 * step + lane;
      deaths[step] = j < end ? __ldg(segment_death + j) : 0;  // 0: not alive after first_row
    }
  };
  int warp_count = 0;
  for (int base = begin; base < end; base += 32 * kStepsAhead) {
    int deaths[kStepsAhead];
    load_deaths(base, deaths);
#pragma unroll
    for (int step = 0; step < kStepsAhead; ++step)
      warp_count += __popc(__ballot_sync(0xFFFFFFFFu, deaths[step] > first_row));
  }
  if (lane == 0) warp_offset[warp + 1] = warp_count;
  __syncthreads();
  if (threadIdx.x == 0) {
    warp_offset[0] = 0;
    for (int w = 1; w <= kWarps; ++w) warp_offset[w] += warp_offset[w - 1];
  }
  __syncthreads();
  int slot = warp_offset[warp];
  for (int base = begin; base < end; base += 32 * kStepsAhead) {
    int deaths[kStepsAhead];
    load_deaths(base, deaths);
#pragma unroll
    for (int step = 0; step < kStepsAhead; ++step) {
      const bool keep = deaths[step] > first_row;
      const unsigned int ballot = __ballot_sync(0xFFFFFFFFu, keep);
      const int mine = slot + __popc(ballot & lanes_below);
      if (keep && mine < capacity) alive[mine] = make_int2(base + 32 * step + lane, deaths[step]);
      slot += __popc(ballot);
    }
  }
  const int alive_count = min(warp_offset[kWarps], capacity);
  __syncthreads();

  const int tile = first_tile + warp;
  if (tile >= q_tiles) return;
  const int p0 = offset + tile * 64, p_last = offset + min(q_len, tile * 64 + 64) - 1;
  int* list = lists + (static_cast<long long>(segment) * q_tiles + tile) * capacity;
  int written = 0;
  for (int base = 0; base < alive_count; base += 32) {  // keys before first_row: kept on the tile iff death > p0
    const int i = base + lane;
    const bool keep = i < alive_count && alive[i].y > p0;
    const unsigned int ballot = __ballot_sync(0xFFFFFFFFu, keep);
    const int mine = written + __popc(ballot & lanes_below);
    if (keep && mine < capacity) list[mine] = alive[i].x;
    written += __popc(ballot);
  }
  for (int base = first_row; base <= p_last; base += 32) {  // keys born in the chunk up to the tile's last row
    const int j = base + lane;
    const bool keep = j <= p_last && chunk_death[j - first_row] > max(j, p0);
    const unsigned int ballot = __ballot_sync(0xFFFFFFFFu, keep);
    const int mine = written + __popc(ballot & lanes_below);
    if (keep && mine < capacity) list[mine] = j;
    written += __popc(ballot);
  }
  if (lane == 0) counts[static_cast<long long>(segment) * q_tiles + tile] = min(written, capacity);
}

// grid (q_tiles, segments), block 256: kept and causal pair counts per key tile, then the status.
__global__ void tile_status_kernel(const int* death, int q_len, int key_len, int q_tiles, int k_tiles,
                                   unsigned char* status) {
  extern __shared__ int tile_counts[];  // kept[k_tiles], causal[k_tiles]
  int* kept = tile_counts;
  int* causal = tile_counts + k_tiles;
  const int qt = blockIdx.x, segment = blockIdx.y;
  const int offset = key_len - q_len;
  const int p0 = offset + qt * 64, p1 = offset + min(q_len, qt * 64 + 64);
  for (int t = threadIdx.x; t < 2 * k_tiles; t += blockDim.x) tile_counts[t] = 0;
  __syncthreads();
  const int* segment_death = death + static_cast<long long>(segment) * key_len;
  for (int j = threadIdx.x; j < min(key_len, p1); j += blockDim.x) {
    const int from = max(j, p0), to_kept = min(p1, segment_death[j]);
    atomicAdd(&causal[j / 64], p1 - from);
    if (to_kept > from) atomicAdd(&kept[j / 64], to_kept - from);
  }
  __syncthreads();
  unsigned char* row = status + (static_cast<long long>(segment) * q_tiles + qt) * k_tiles;
  for (int kt = threadIdx.x; kt < k_tiles; kt += blockDim.x) {
    const int cells = (p1 - p0) * min(64, key_len - kt * 64);
    row[kt] = kept[kt] == 0 ? 0 : (kept[kt] == causal[kt] && causal[kt] == cells ? 2 : 1);
  }
}

}  // namespace

void launch_gather_lists(const std::int32_t* death, int segments, int q_len, int key_len, int q_tiles, int capacity,
                         std::int32_t* lists, std::int32_t* counts, cudaStream_t stream, GatherMethod method) {
  if (segments == 0 || q_tiles == 0) return;
  if (method == GatherMethod::Auto) {
    static const bool scan_forced = [] {  // DMASCOPE_GATHER_LISTS=scan: the O(L)-per-tile kernel, for comparisons
      const char* forced = std::getenv("DMASCOPE_GATHER_LISTS");
      return forced && std::strcmp(forced, "scan") == 0;
    }();
    method = !scan_forced && capacity <= kChunkedGatherMaxCapacity ? GatherMethod::Chunked : GatherMethod::Scan;
  }
  if (method == GatherMethod::Chunked) {
    if (capacity > kChunkedGatherMaxCapacity)
      throw_kernel_error("chunked gather lists support a capacity of at most " +
                         std::to_string(kChunkedGatherMaxCapacity) + " keys, got " + std::to_string(capacity));
    const dim3 grid((q_tiles + kGatherChunkTiles - 1) / kGatherChunkTiles, segments);
    gather_lists_by_chunks<<<grid, kGatherChunkTiles * 32, static_cast<std::size_t>(capacity) * sizeof(int2),
                             stream>>>(death, q_len, key_len, q_tiles, capacity, lists, counts);
  } else {
    gather_lists_kernel<<<dim3(q_tiles, segments), 256, 0, stream>>>(death, q_len, key_len, q_tiles, capacity, lists,
                                                                     counts);
  }
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

void launch_tile_status(const std::int32_t* death, int segments, int q_len, int key_len, int q_tiles, int k_tiles,
                        std::uint8_t* status, cudaStream_t stream) {
  if (segments == 0 || q_tiles == 0) return;
  const std::size_t shared = 2 * static_cast<std::size_t>(k_tiles) * sizeof(int);
  if (shared > 48 * 1024)
    throw_kernel_error("tile-status instrumentation supports at most 6144 key tiles, got " + std::to_string(k_tiles));
  tile_status_kernel<<<dim3(q_tiles, segments), 256, shared, stream>>>(death, q_len, key_len, q_tiles, k_tiles, status);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda::detail
