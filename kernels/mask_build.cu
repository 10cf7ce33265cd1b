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
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cuda_check.h"
#include "kernels/forward_common.cuh"
#include "kernels/kernel_profiling.h"
#include "kernels/mask_build.cuh"
#include "kernels/rank_key.cuh"

namespace dmascope::cuda::detail {

namespace {

constexpr int kRankBlock = 64;  // ranks per table row and per query CTA

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
// rank order (β desc, position asc) is the global one. A chunk key ranked after the w-th prefix key T is never kept
// (w better keys precede it): death = its own index, and it changes no other key's death. So the local problem holds
// the n_I prefix keys and the E chunk keys ranked before T — exactly the keys that precede T, T included, in the
// joint rank order — and local position q ≥ n_I stands for the row of the q-th such key (its index).
// One CTA per (chunk, segment):
//   1. pivot: rank a sample of 512 prefix keys (a bitonic sort over the block) and take h, the β of a sample key above
//      the expected rank of T by 4 standard deviations plus 4 sample ranks;
//   2. collection: one pass over the prefix and the chunk appends every key ranked at or before h (!(β < h): one float
//      compare), in index order, to the sort buffer (β's bits, index). Warps load 16 steps of 32 keys at once in
//      rounds of 16 × 512 keys; one barrier per round turns the warps' counts into their slots, and the next round's
//      loads are in flight meanwhile. A round costs its instructions, not its loads: about 1.4 µs per 8K keys on an
//      NVIDIA H200 with one round in flight or two (bench/h200/README.md). The prefix needs no pivot while it holds at
//      most w keys (every key is collected). If h missed (fewer than w prefix keys at or before it) or too many keys
//      precede it, T is found by a radix select over the whole prefix instead and the n_I keys are compacted there:
//      slower, same result;
//   3. the joint rank order of the entries up to T, by the top 11 bits of their rank keys: one histogram finds the bin
//      holding T (the entries of later bins rank after it and are dropped: the pivot's margin collects about 2w prefix
//      keys), a scatter groups the rest by bin, and each entry counts the entries of its bin ranked before it
//      (bin_sort_collected). Where a kept bin holds more than 128 entries (tied β), the entries of later bins are
//      dropped (cut_after_window) and a stable LSD radix sort of the rest (8- or 9-bit passes in shared memory, as few
//      as their range needs) gives the order instead. The local problem is its head up to the w-th prefix key
//      (everything when the prefix holds fewer than w keys); a bitmap over the collection slots (which are in index
//      order) gives each local key its position;
//   4. computes D(t), the w-th smallest local position among the t best local keys, for every local rank t ≥ w, from
//      64-bit masks over (rank block of 64) × (position bucket of 64): which ranks of the block lie in the bucket, and
//      which positions of the bucket are ranked in earlier blocks (a prefix OR): a walk over at most M/64 buckets by
//      popcount, then a bit select in one bucket — the sorted path's prefix statistic, in shared memory.
//      death = the row of local position max(position, D(t)) (kept to the chunk's end when t < w);
//   5. writes death for the keys that die on the chunk's rows (never kept included). Keys alive past its last row are
//      in the next chunk's prefix set and written there, or written as L by the last chunk: one writer per key.
//      When asked (ChunkKeysOutput), it also writes the local keys in position order — ascending key index — with
//      their death row in the chunk or "after it": every key kept on a row of the chunk, from which the wgmma forward
//      builds each 64-row tile's gather list (no gather-list launch).
// Grid (ceil(L / S), segments), block kChunkThreads, dynamic shared memory sizeof(ChunkedShared<kItems>) (about 128 KB
// for w ≤ 1024, 200 KB for w ≤ 4096). β reads are O(c·S) for chunk c, O(L²/S) in all: the path is for L ≤ 64K.
// Measured on an NVIDIA H200 at L 32K, w 1024, one kv head: 0.030 ms, against 97–106 µs for the sorted-prefix build
// and 73 µs for the first chunked version (bench/h200/README.md); on an NVIDIA H100, 0.029 ms before the collection
// was ordered by bins, 0.024 ms after (bench/h100/bin-order-before-after.txt).
constexpr int kChunkKeys = kChunkRows;  // mask_build.cuh: the chunk keys' layout depends on it
constexpr int kChunkThreads = 512;
constexpr int kChunkWarps = kChunkThreads / 32;
constexpr int kRoundSteps = 16;                                   // steps of 32 keys per warp and collection round
constexpr int kRoundKeys = kChunkWarps * kRoundSteps * 32;        // 8K prefix keys per round
constexpr int kMaxPrefixRounds = (kChunkedMaxKeys + kRoundKeys - 1) / kRoundKeys;
constexpr int kChunkSteps = kChunkKeys / kChunkThreads;           // the chunk's keys: two steps per warp
constexpr int kSelectBins = 2048;  // 11-bit digits (fallback selection)
constexpr int kBinsPerThread = kSelectBins / kChunkThreads;
constexpr int kSortDigitsMax = 512;  // 8- or 9-bit digits (see radix_sort_collected)
constexpr int kItemsSmall = 4;     // local keys per thread for w ≤ 1024
constexpr int kItemsLarge = 10;    // for w ≤ 4096
// Before the LSD sort, the cut (cut_after_window) runs when the collection holds at least this many prefix keys past
// w: below, the keys it would drop cost the sort less than the cut's own pass.
constexpr int kCutMinSurplus = 256;
constexpr int kTraceSlots = 14;    // per-CTA timestamps of a profiling build's trace (see launch_death_by_chunks)
#ifdef DMASCOPE_KERNEL_PROFILING
constexpr bool kKernelProfiling = true;
#else
constexpr bool kKernelProfiling = false;  // the stage stops and the trace compile away
#endif

template <int kItems>
struct ChunkedShared {
  static constexpr int kLocalCapacity = kChunkThreads * kItems;        // M ≤ this
  static constexpr int kWindowCapacity = kLocalCapacity - kChunkKeys;  // w ≤ this
  static constexpr int kBlocks = kLocalCapacity / 64;                  // rank blocks = position buckets
  // Prefix keys at or before h: about w + P·(4√e + 4)/512 with e = 512·w/P expected sample ranks below T
  // (≈ 2.3K for w = 1024 at P = 31K, 7.4K for w = 4096 at P = 63K); more sends the CTA to the fallback.
  static constexpr int kCandidateCapacity = kItems <= kItemsSmall ? 6144 : 10240;
  static constexpr int kSortCapacity = kCandidateCapacity + kChunkKeys;
  static constexpr int kSlotWords = kSortCapacity / 32;
  using Scan = cub::BlockScan<unsigned long long, kChunkThreads>;
  struct Selection {  // fallback radix select
    int histogram[kSelectBins];
    typename Scan::TempStorage scan;
  };
  struct BinSort {  // bin_sort_collected
    int bins[kSelectBins];           // per bin: prefix entries << 16 | entries, then the scatter's fill counts
    int start[kSelectBins + 1];      // first grouped position of each bin
    typename Scan::TempStorage scan;
  };
  union Counters {  // the pivot sample (step 1), the fallback selection (2) and the sort's counters (3) never overlap
    unsigned int sample[2][kChunkThreads];       // double-buffered bitonic exchange
    Selection selection;
    BinSort bin_sort;
    // [warp][digit]: count of the warp's entries, then their offset (< kSortCapacity < 2^16)
    unsigned short digit_offset[kChunkWarps * kSortDigitsMax];
  };
  struct SortBuffers {  // [ping-pong]: rank keys and their collection slots; each entry's rank within its warp's digit
    unsigned int keys[2][kSortCapacity];
    unsigned short slots[2][kSortCapacity];
    unsigned short ranks[kSortCapacity];
  };
  struct Tables {  // step 4, after the sort
    unsigned long long members[kBlocks * kBlocks];  // [rank block][bucket]: bit r % 64 set when rank r is in the bucket
    // [rank block][bucket]: bit p % 64 set when position p of the bucket has a rank in an earlier rank block
    unsigned long long earlier_positions[kBlocks * kBlocks];
  };
  union Work {
    SortBuffers sort;
    Tables tables;
  };
  Work work;
  Counters counters;
  unsigned short slot_index[kSortCapacity];        // key index of each collection slot (slots ascend in index)
  unsigned short sorted_position[kLocalCapacity];  // local rank → local position
  unsigned short local_index[kLocalCapacity];      // local position → key index (= its row for positions ≥ n_I)
  unsigned int slot_bits[kSlotWords];              // collection slots of the local keys
  int slot_bits_before[kSlotWords];                // local keys in earlier words
  unsigned char chunk_local[kChunkKeys];           // chunk keys that are local keys
};

// The bin of `histogram` (kSelectBins counts) that holds the needed-th key (1-based, ≤ the total): the thread whose
// kBinsPerThread neighbouring bins hold it writes the bin to *bin and the keys of earlier bins to *keys_before (when
// not null); a block scan (sh.counters.selection.scan) gives each thread's first key. Block-wide; the caller syncs
// before reading them.
template <class Shared>
__device__ void find_bin_of_rank(Shared& sh, const int* histogram, int needed, unsigned int* bin, int* keys_before) {
  const int tid = threadIdx.x;
  int bins[kBinsPerThread], bins_total = 0;
#pragma unroll
  for (int b = 0; b < kBinsPerThread; ++b) bins_total += bins[b] = histogram[kBinsPerThread * tid + b];
  unsigned long long before_wide = 0;
  typename Shared::Scan(sh.counters.selection.scan)
      .ExclusiveSum(static_cast<unsigned long long>(bins_total), before_wide);
  int before = static_cast<int>(before_wide);
  if (before < needed && needed <= before + bins_total) {
#pragma unroll
    for (int b = 0; b < kBinsPerThread; ++b) {
      if (needed <= before + bins[b]) {
        *bin = kBinsPerThread * tid + b;
        if (keys_before != nullptr) *keys_before = before;
        break;
      }
      before += bins[b];
    }
  }
}

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
  int* histogram = sh.counters.selection.histogram;
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
    find_bin_of_rank(sh, histogram, needed, &selected_digit, &keys_before_digit);
    __syncthreads();
    threshold |= selected_digit << shift;
    needed -= keys_before_digit;
    __syncthreads();  // selected_digit, the histogram and the scan storage are reused by the next pass
  }
}

// Fallback of step 2 (the pivot missed): the w-th best prefix key by a radix select over the whole prefix, then an
// ordered compaction of the keys ranked at or before it — a counting pass over warp slices (ballots), a prefix over
// the warps, a writing pass. Fills sort entries 0..w−1 (β's bits, index; ascending index).
template <class Shared>
__device__ __noinline__ void collect_alive_from_whole_prefix(Shared& sh, const float* beta, int prefix_len,
                                                              int window) {
  __shared__ int warp_smaller[kChunkWarps + 1], warp_equal[kChunkWarps + 1];
  constexpr int kStepsAhead = 32;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const unsigned int lanes_below = (1u << lane) - 1;
  unsigned int threshold = 0;
  int needed = window;
  {
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
          ahead[u] = __ldg(body + min(i, vectors - 1));  // unconditional: the loads go out together
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
  const int slice = ((prefix_len + kChunkWarps - 1) / kChunkWarps + 31) / 32 * 32;
  const int begin = min(prefix_len, warp * slice), end = min(prefix_len, begin + slice);
  auto load_keys = [&](int base, unsigned int (&keys)[kStepsAhead]) {
    float values[kStepsAhead];
#pragma unroll
    for (int step = 0; step < kStepsAhead; ++step) values[step] = __ldg(beta + min(base + 32 * step + lane, end - 1));
#pragma unroll
    for (int step = 0; step < kStepsAhead; ++step)  // padding: never below or at the threshold
      keys[step] = base + 32 * step + lane < end ? rank_key(values[step]) : 0xFFFFFFFFu;
  };
  int smaller = 0, equal = 0;
  for (int base = begin; base < end; base += 32 * kStepsAhead) {
    unsigned int keys[kStepsAhead];
    load_keys(base, keys);
#pragma unroll
    for (int step = 0; step < kStepsAhead; ++step) {
      smaller += __popc(__ballot_sync(0xFFFFFFFFu, keys[step] < threshold));
      equal += __popc(__ballot_sync(0xFFFFFFFFu, keys[step] == threshold));
    }
  }
  if (lane == 0) {
    warp_smaller[warp + 1] = smaller;
    warp_equal[warp + 1] = equal;
  }
  __syncthreads();
  if (tid == 0) {
    warp_smaller[0] = warp_equal[0] = 0;
    for (int w = 1; w <= kChunkWarps; ++w) {
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
      if (take) {
        const int at = slot + __popc(taken & lanes_below);
        sh.work.sort.keys[0][at] = __float_as_uint(value_of_rank_key(keys[step]));  // the sort takes β's bits
        sh.slot_index[at] = static_cast<unsigned short>(base + 32 * step + lane);
      }
      slot += __popc(taken);
      equal_rank += __popc(equal_lanes);
    }
  }
}

// Stable LSD radix sort of the n collected entries in sort.keys[0] (β's bits, turned into rank keys first; payload:
// the collection slot, 0..n−1) by digits of (rank key − the smallest): 8- or 9-bit digits, as few passes as the range
// of the keys needs (the collected keys are the prefix's best few percent: β within a factor of ~20 needs 26 bits,
// three 9-bit passes instead of four 8-bit ones), and returns the slots in rank order (slots[0] or slots[1], by the
// parity of the passes). Warp u owns entries [u·steps·32, (u+1)·steps·32) and ranks them in order: one ballot per digit
// bit groups a step's lanes by digit (as CUB's MatchAny; with __match_any_sync the sort of ~2.5K keys took 12.3 µs
// instead of 11.0) and a per-warp counter per digit carries over the steps; one block scan over (digit, warp) turns
// the counts into output offsets. Four barriers per pass. The loops stay rolled (ranks go through shared memory):
// each CTA runs this code once, and unrolled it was no faster (mask-build-2.md).
template <int kBits, class Shared>
__device__ const unsigned short* radix_sort_passes(Shared& sh, int n, unsigned int lowest, int passes) {
  constexpr int kDigits = 1 << kBits;
  constexpr int kWarpsPerThread = kChunkWarps * kDigits / kChunkThreads;  // scan: (digit, warp) cells per thread
  constexpr int kThreadsPerDigit = kChunkWarps / kWarpsPerThread;
  static_assert(kWarpsPerThread * kChunkThreads == kChunkWarps * kDigits && kWarpsPerThread <= kChunkWarps);
  __shared__ int warp_sums[kChunkWarps];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const unsigned int lanes_below = (1u << lane) - 1;
  const int steps = (n + kChunkThreads - 1) / kChunkThreads;
  const int warp_first = warp * steps * 32, warp_end = min(n, warp_first + steps * 32);
  unsigned short* offsets = sh.counters.digit_offset;
  unsigned short* warp_offsets = offsets + warp * kDigits;
  unsigned short* ranks = sh.work.sort.ranks;
#pragma unroll 1
  for (int pass = 0; pass < passes; ++pass) {
    const int shift = kBits * pass;
    const unsigned int* from_keys = sh.work.sort.keys[pass & 1];
    const unsigned short* from_slots = sh.work.sort.slots[pass & 1];
    unsigned int* to_keys = sh.work.sort.keys[(pass + 1) & 1];
    unsigned short* to_slots = sh.work.sort.slots[(pass + 1) & 1];
    for (int d = lane; d < kDigits; d += 32) warp_offsets[d] = 0;
    __syncwarp();
#pragma unroll 1
    for (int base = warp_first; base < warp_end; base += 32) {
      const int i = base + lane;
      const bool valid = i < warp_end;
      const unsigned int digit = ((from_keys[min(i, n - 1)] - lowest) >> shift) & (kDigits - 1u);
      unsigned int peers = __ballot_sync(0xFFFFFFFFu, valid);  // the valid lanes with this lane's digit
#pragma unroll
      for (int bit = 0; bit < kBits; ++bit) {
        const bool set = (digit >> bit) & 1u;
        const unsigned int ones = __ballot_sync(0xFFFFFFFFu, set);
        peers &= set ? ones : ~ones;
      }
      int rank = 0;
      if (valid) rank = warp_offsets[digit] + __popc(peers & lanes_below);
      __syncwarp();
      if (valid) {
        if ((peers & lanes_below) == 0) warp_offsets[digit] = static_cast<unsigned short>(rank + __popc(peers));
        ranks[i] = static_cast<unsigned short>(rank);
      }
      __syncwarp();
    }
    __syncthreads();
    {  // exclusive scan over (digit, warp), digit-major: thread t holds kWarpsPerThread warps of one digit
      const int digit = tid / kThreadsPerDigit, first_warp = kWarpsPerThread * (tid % kThreadsPerDigit);
      int counts[kWarpsPerThread], total = 0;
#pragma unroll
      for (int k = 0; k < kWarpsPerThread; ++k) total += counts[k] = offsets[(first_warp + k) * kDigits + digit];
      int inclusive = total;
#pragma unroll
      for (int offset = 1; offset < 32; offset <<= 1) {
        const int value = __shfl_up_sync(0xFFFFFFFFu, inclusive, offset);
        if (lane >= offset) inclusive += value;
      }
      if (lane == 31) warp_sums[warp] = inclusive;
      __syncthreads();
      int running = __reduce_add_sync(0xFFFFFFFFu, lane < warp ? warp_sums[lane] : 0) + inclusive - total;
#pragma unroll
      for (int k = 0; k < kWarpsPerThread; ++k) {
        offsets[(first_warp + k) * kDigits + digit] = static_cast<unsigned short>(running);
        running += counts[k];
      }
    }
    __syncthreads();
#pragma unroll 1
    for (int i = warp_first + lane; i < warp_end; i += 32) {
      const unsigned int key = from_keys[i];
      const int to = warp_offsets[((key - lowest) >> shift) & (kDigits - 1u)] + ranks[i];
      to_keys[to] = key;
      to_slots[to] = pass == 0 ? static_cast<unsigned short>(i) : from_slots[i];
    }
    __syncthreads();
  }
  return sh.work.sort.slots[passes & 1];
}

// The collected entries' β bits → rank keys in place; returns the smallest and the largest (the sort's range).
template <class Shared>
__device__ void to_rank_keys(Shared& sh, int n, unsigned int& lowest, unsigned int& top) {
  __shared__ unsigned int warp_min[kChunkWarps], warp_max[kChunkWarps];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int steps = (n + kChunkThreads - 1) / kChunkThreads;
  const int warp_first = warp * steps * 32, warp_end = min(n, warp_first + steps * 32);
  unsigned int smallest = 0xFFFFFFFFu, largest = 0;
  for (int i = warp_first + lane; i < warp_end; i += 32) {
    const unsigned int key = rank_key(__uint_as_float(sh.work.sort.keys[0][i]));
    sh.work.sort.keys[0][i] = key;
    smallest = min(smallest, key);
    largest = max(largest, key);
  }
  smallest = __reduce_min_sync(0xFFFFFFFFu, smallest);
  largest = __reduce_max_sync(0xFFFFFFFFu, largest);
  if (lane == 0) warp_min[warp] = smallest, warp_max[warp] = largest;
  __syncthreads();
  lowest = __reduce_min_sync(0xFFFFFFFFu, lane < kChunkWarps ? warp_min[lane] : 0xFFFFFFFFu);
  top = __reduce_max_sync(0xFFFFFFFFu, lane < kChunkWarps ? warp_max[lane] : 0u);
}

// Bits of the largest rank key − the smallest (at least 1).
__device__ __forceinline__ int range_bits(int n, unsigned int lowest, unsigned int top) {
  return n > 0 && top > lowest ? 32 - __clz(top - lowest) : 1;
}

// The cut before the LSD sort (step 3, crowded bins): the pivot's margin collects about twice w prefix keys, and every
// one of them ranked after T, the w-th best prefix key, would be sorted only to be dropped. bin_sort_collected, which
// stepped aside, has already found the bin holding T in a histogram of the top kSelectBits bits of (rank key −
// lowest); the entries of later bins (prefix and chunk keys alike) rank after T and leave, in order, so the sort takes
// about w keys plus the chunk keys ranked before T. The kept set stays closed towards better ranks and holds T, as the
// collection's was. Updates n, prefix_entries and top (an upper bound of the kept keys). Block-uniform; the entries
// are rank keys.
constexpr int kSelectBits = 11;
static_assert(kSelectBins == 1 << kSelectBits);
template <class Shared>
__device__ void cut_after_window(Shared& sh, int& n, int& prefix_entries, unsigned int last_bin, unsigned int lowest,
                                 unsigned int& top) {
  constexpr int kMaxSteps = Shared::kSortCapacity / kChunkThreads;  // entries per lane
  __shared__ int warp_kept[kChunkWarps], warp_kept_prefix[kChunkWarps];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int shift = max(0, range_bits(n, lowest, top) - kSelectBits);  // bin_sort_collected's
  unsigned int* keys = sh.work.sort.keys[0];
  // Ordered compaction in place: warp u owns entries [u·steps·32, (u+1)·steps·32); all of them are read into
  // registers before the barrier that publishes the warps' counts, and written after it.
  const int steps = (n + kChunkThreads - 1) / kChunkThreads;
  const int warp_first = warp * steps * 32;
  unsigned int entry_key[kMaxSteps], kept_ballot[kMaxSteps];
  unsigned short entry_index[kMaxSteps];
  int kept = 0, kept_prefix = 0;
#pragma unroll
  for (int s = 0; s < kMaxSteps; ++s) {
    kept_ballot[s] = 0;
    if (s < steps) {
      const int i = warp_first + 32 * s + lane;
      const bool valid = i < n;
      entry_key[s] = valid ? keys[i] : 0u;
      entry_index[s] = valid ? sh.slot_index[i] : 0;
      kept_ballot[s] = __ballot_sync(0xFFFFFFFFu, valid && ((entry_key[s] - lowest) >> shift) <= last_bin);
      kept += __popc(kept_ballot[s]);
      kept_prefix += __popc(kept_ballot[s] & __ballot_sync(0xFFFFFFFFu, i < prefix_entries));
    }
  }
  if (lane == 0) warp_kept[warp] = kept, warp_kept_prefix[warp] = kept_prefix;
  __syncthreads();
  int at = __reduce_add_sync(0xFFFFFFFFu, lane < warp ? warp_kept[lane] : 0);
  const unsigned int lanes_below = (1u << lane) - 1;
#pragma unroll
  for (int s = 0; s < kMaxSteps; ++s) {
    if (s < steps) {
      if ((kept_ballot[s] >> lane) & 1u) {
        const int to = at + __popc(kept_ballot[s] & lanes_below);
        keys[to] = entry_key[s];
        sh.slot_index[to] = entry_index[s];
      }
      at += __popc(kept_ballot[s]);
    }
  }
  n = __reduce_add_sync(0xFFFFFFFFu, lane < kChunkWarps ? warp_kept[lane] : 0);
  prefix_entries = __reduce_add_sync(0xFFFFFFFFu, lane < kChunkWarps ? warp_kept_prefix[lane] : 0);
  top = static_cast<unsigned int>(
      min(static_cast<unsigned long long>(top), lowest + (static_cast<unsigned long long>(last_bin + 1) << shift) - 1));
  __syncthreads();  // the entries are in place; cut_bin and the counts may be reused
}

// The cut and the sort in one, for the usual case of keys spread over many bins (step 3): a histogram of the top
// kSelectBits bits of (rank key − lowest), counting prefix entries and all entries; one scan gives each bin's first
// grouped position and the bin holding T, the w-th best prefix key (every bin kept when the prefix holds fewer than
// w keys); the entries of bins up to T's are scattered to their bin's range (any order within it), and each entry's
// rank is its bin's start plus the entries of its bin before it in (rank key, slot) order — the stable order, which is
// the joint rank order, since slots ascend with the key index. Work O(n + Σ k_b²) for k_b entries in bin b, so it
// steps aside (returns nullptr, nothing written but the counters) when a kept bin holds more than kBinSortMaxEntries:
// many tied or near-tied β (bf16 models) go to the cut and the LSD sort, with the bin holding T in *cut_bin_out for
// the cut. Otherwise returns the kept entries' slots in rank order, n_kept of them; the collection slots and
// prefix_entries keep their meaning.
constexpr int kBinSortMaxEntries = 128;
template <class Shared>
__device__ const unsigned short* bin_sort_collected(Shared& sh, int n, int prefix_entries, int window,
                                                    unsigned int lowest, unsigned int top, int& n_kept,
                                                    unsigned int& cut_bin_out) {
  static_assert(Shared::kSortCapacity < (1 << 16), "16-bit counts per bin");
  __shared__ int cut_bin;
  const int tid = threadIdx.x;
  const int shift = max(0, range_bits(n, lowest, top) - kSelectBits);
  int* bins = sh.counters.bin_sort.bins;
  int* start = sh.counters.bin_sort.start;
  const unsigned int* keys = sh.work.sort.keys[0];
  for (int v = tid; v < kSelectBins; v += kChunkThreads) bins[v] = 0;
  if (tid == 0) cut_bin = kSelectBins - 1;  // every bin, unless the prefix holds w keys
  __syncthreads();
  for (int i = tid; i < n; i += kChunkThreads)
    atomicAdd(&bins[(keys[i] - lowest) >> shift], i < prefix_entries ? 0x10001 : 1);
  __syncthreads();
  int totals[kBinsPerThread];
  {
    int prefix_counts[kBinsPerThread], total = 0, prefix_total = 0;
#pragma unroll
    for (int b = 0; b < kBinsPerThread; ++b) {
      const int packed = bins[kBinsPerThread * tid + b];
      total += totals[b] = packed & 0xFFFF;
      prefix_total += prefix_counts[b] = packed >> 16;
    }
    unsigned long long before_wide = 0;
    typename Shared::Scan(sh.counters.bin_sort.scan)
        .ExclusiveSum(static_cast<unsigned long long>(prefix_total) << 32 | static_cast<unsigned int>(total),
                      before_wide);
    int before = static_cast<int>(before_wide & 0xFFFFFFFFu), prefix_before = static_cast<int>(before_wide >> 32);
    const bool holds_t = prefix_entries >= window && prefix_before < window && window <= prefix_before + prefix_total;
#pragma unroll
    for (int b = 0; b < kBinsPerThread; ++b) {
      start[kBinsPerThread * tid + b] = before;
      bins[kBinsPerThread * tid + b] = 0;  // the scatter's fill counts
      before += totals[b];
      if (holds_t && prefix_before < window && window <= prefix_before + prefix_counts[b])
        cut_bin = kBinsPerThread * tid + b;
      prefix_before += prefix_counts[b];
    }
    if (tid == kChunkThreads - 1) start[kSelectBins] = before;
  }
  __syncthreads();
  const int last_bin = cut_bin;
  int largest = 0;
#pragma unroll
  for (int b = 0; b < kBinsPerThread; ++b)
    if (kBinsPerThread * tid + b <= last_bin) largest = max(largest, totals[b]);
  if (__syncthreads_or(largest > kBinSortMaxEntries)) {
    cut_bin_out = static_cast<unsigned int>(last_bin);
    return nullptr;
  }
  n_kept = start[last_bin + 1];
  unsigned int* grouped_keys = sh.work.sort.keys[1];
  unsigned short* grouped_slots = sh.work.sort.slots[1];
  for (int i = tid; i < n; i += kChunkThreads) {
    const unsigned int key = keys[i];
    const int bin = (key - lowest) >> shift;
    if (bin <= last_bin) {
      const int at = start[bin] + atomicAdd(&bins[bin], 1);
      grouped_keys[at] = key;
      grouped_slots[at] = static_cast<unsigned short>(i);
    }
  }
  __syncthreads();
  unsigned short* sorted_slots = sh.work.sort.slots[0];
  for (int i = tid; i < n_kept; i += kChunkThreads) {
    const unsigned int key = grouped_keys[i];
    const int slot = grouped_slots[i], bin = (key - lowest) >> shift;
    int rank = start[bin];
    for (int j = start[bin], end = start[bin + 1]; j < end; ++j) {
      const unsigned int other = grouped_keys[j];
      rank += other < key || (other == key && grouped_slots[j] < slot);
    }
    sorted_slots[rank] = static_cast<unsigned short>(slot);
  }
  __syncthreads();
  return sorted_slots;
}

// The sort of the n collected rank keys, by as few 8- or 9-bit passes as their range needs.
template <class Shared>
__device__ const unsigned short* radix_sort_collected(Shared& sh, int n, unsigned int lowest, unsigned int top) {
  const int bits = range_bits(n, lowest, top);
  const int passes_of_8 = (bits + 7) / 8, passes_of_9 = (bits + 8) / 9;
  return passes_of_9 < passes_of_8 ? radix_sort_passes<9>(sh, n, lowest, passes_of_9)
                                   : radix_sort_passes<8>(sh, n, lowest, passes_of_8);
}

__device__ __forceinline__ long long global_time_ns() {
  long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Whether a profiling build's kernel returns after `stage` (kernel_profiling.h); always false in a normal build.
__device__ __forceinline__ bool stops_after(int stop_after_stage, int stage) {
  return kKernelProfiling && stop_after_stage == stage;
}

template <int kItems>
__global__ void __launch_bounds__(kChunkThreads, 1)
    death_by_chunks(const float* beta_all, int key_len, int window, int* death_all, int stop_after_stage,
                    long long* trace_all, ChunkKeysOutput chunk_keys) {
  using Shared = ChunkedShared<kItems>;
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  Shared& sh = *reinterpret_cast<Shared*>(shared_bytes);
  __shared__ float pivot;
  __shared__ int round_count[kMaxPrefixRounds + 1][kChunkWarps];
  __shared__ int warp_prefix_entries[kChunkWarps];
  __shared__ int local_len_shared;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const unsigned int lanes_below = (1u << lane) - 1;
  const int chunk_first = blockIdx.x * kChunkKeys, segment = blockIdx.y;
  const float* beta = beta_all + static_cast<long long>(segment) * key_len;
  int* death = death_all + static_cast<long long>(segment) * key_len;
  const int prefix_len = chunk_first;
  const int chunk_len = min(kChunkKeys, key_len - chunk_first);
  const int chunk_end = chunk_first + chunk_len;
  long long* trace = kKernelProfiling && trace_all ? trace_all + (static_cast<long long>(segment) * gridDim.x + blockIdx.x) * kTraceSlots
                               : nullptr;
  auto stamp = [&](int slot) {
    if (trace != nullptr && tid == 0) trace[slot] = clock64();
  };
  if (trace != nullptr && tid == 0) trace[0] = global_time_ns();
  stamp(1);
#if __CUDA_ARCH__ >= 900
  // A forward launched as this kernel's programmatic dependent (ForwardParams::programmatic) may start its CTAs now
  // on the SMs this grid leaves free; they wait for this grid's completion before reading what it writes.
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
  if (stops_after(stop_after_stage, 0)) return;

  // Loads that need no pivot go out first: the chunk's keys and the first collection round of the prefix.
  // The loads are unconditional (clamped to a valid address) and converted afterwards: a load under `j < end ? …`
  // becomes a branch per step, and the 32 loads ahead then wait for each other (measured: 5–9 µs per round).
  auto load_prefix_round = [&](int round, float(&values)[kRoundSteps]) {
    const int begin = round * kRoundKeys + warp * kRoundSteps * 32;
#pragma unroll
    for (int step = 0; step < kRoundSteps; ++step)
      values[step] = __ldg(beta + min(begin + 32 * step + lane, key_len - 1));
  };
  const int chunk_warp_begin = chunk_first + warp * kChunkSteps * 32;
  float chunk_values[kChunkSteps];
#pragma unroll
  for (int step = 0; step < kChunkSteps; ++step)
    chunk_values[step] = __ldg(beta + min(chunk_warp_begin + 32 * step + lane, key_len - 1));
  float current[kRoundSteps];
  load_prefix_round(0, current);
  for (int i = tid; i < Shared::kSlotWords; i += kChunkThreads) sh.slot_bits[i] = 0;
  for (int i = tid; i < kChunkKeys / 4; i += kChunkThreads) reinterpret_cast<unsigned int*>(sh.chunk_local)[i] = 0;

  // 1. The pivot: a β value h; the keys with !(β < h) — NaN or β ≥ h, i.e. rank key ≤ that of h — are collected: one
  //    float compare per key, and a set closed towards better ranks. Every key is collected (h = −∞) while the
  //    prefix holds at most w keys.
  if (prefix_len <= window) {
    if (tid == 0) pivot = -INFINITY;
  } else {
    unsigned int mine =
        rank_key(__ldg(beta + static_cast<int>(static_cast<long long>(tid) * prefix_len / kChunkThreads)));
    int buffer = 0;
#pragma unroll 1
    for (int size = 2; size <= kChunkThreads; size <<= 1)  // bitonic sort of the sample, one key per thread
#pragma unroll 1
      for (int stride = size >> 1; stride > 0; stride >>= 1) {
        unsigned int other;
        if (stride >= 32) {
          sh.counters.sample[buffer][tid] = mine;
          __syncthreads();
          other = sh.counters.sample[buffer][tid ^ stride];
          buffer ^= 1;
        } else {
          other = __shfl_xor_sync(0xFFFFFFFFu, mine, stride);
        }
        const bool ascending = (tid & size) == 0, lower = (tid & stride) == 0;
        mine = lower == ascending ? min(mine, other) : max(mine, other);
      }
    const float expected = static_cast<float>(window) * kChunkThreads / prefix_len;
    const int hi_rank = static_cast<int>(ceilf(expected + 4.0f * sqrtf(expected) + 4.0f));
    if (hi_rank >= kChunkThreads) {
      if (tid == 0) pivot = -INFINITY;
    } else if (tid == hi_rank) {
      pivot = mine == 0 ? INFINITY : value_of_rank_key(mine);  // a NaN sample: collect NaN and +∞ (still closed)
    }
  }
  __syncthreads();
  stamp(2);
  if (stops_after(stop_after_stage, 1)) return;
  const float h = pivot;

  // 2. Collection, in index order: each round's warp counts → warp slots (one barrier), then the ordered writes.
  int collected = 0;
  // values[s]: β of index warp_begin + 32·s + lane, valid below end.
  auto collect_round = [&](auto& values, int warp_begin, int end, int round) {
    constexpr int kSteps = sizeof(values) / sizeof(values[0]);
    static_assert(kSteps <= 32);
    unsigned int taken_steps = 0;  // bit s: this lane's key of step s is taken (counted per lane: no ballot yet)
#pragma unroll
    for (int s = 0; s < kSteps; ++s)
      taken_steps |= static_cast<unsigned int>(warp_begin + 32 * s + lane < end && !(values[s] < h)) << s;
    const int count = __reduce_add_sync(0xFFFFFFFFu, __popc(taken_steps));
    if (lane == 0) round_count[round][warp] = count;
    __syncthreads();
    const int of_lane = lane < kChunkWarps ? round_count[round][lane] : 0;
    int slot = collected + __reduce_add_sync(0xFFFFFFFFu, lane < warp ? of_lane : 0);
    collected += __reduce_add_sync(0xFFFFFFFFu, of_lane);
#pragma unroll
    for (int s = 0; s < kSteps; ++s) {
      const bool take = (taken_steps >> s) & 1u;
      const unsigned int taken = __ballot_sync(0xFFFFFFFFu, take);
      const int at = slot + __popc(taken & lanes_below);
      if (take && at < Shared::kSortCapacity) {
        sh.work.sort.keys[0][at] = __float_as_uint(values[s]);  // turned into its rank key by the sort
        sh.slot_index[at] = static_cast<unsigned short>(warp_begin + 32 * s + lane);
      }
      slot += __popc(taken);
    }
  };
  const int rounds = (prefix_len + kRoundKeys - 1) / kRoundKeys;
  for (int round = 0; round < rounds; ++round) {
    float next[kRoundSteps];
    if (round + 1 < rounds) load_prefix_round(round + 1, next);
    collect_round(current, round * kRoundKeys + warp * kRoundSteps * 32, prefix_len, round);
    if (round + 1 < rounds)
#pragma unroll
      for (int s = 0; s < kRoundSteps; ++s) current[s] = next[s];
  }
  if (chunk_keys.beta_log2 != nullptr) {  // the chunk's β, loaded at the start, in the forward's units
    float* const beta_log2 = chunk_keys.beta_log2 + static_cast<long long>(segment) * key_len;
#pragma unroll
    for (int step = 0; step < kChunkSteps; ++step) {
      const int j = chunk_warp_begin + 32 * step + lane;
      if (j < chunk_end) beta_log2[j] = beta_in_log2_units(chunk_values[step]);
    }
  }
  int prefix_entries = collected;
  const bool pivot_missed =
      prefix_len > window && (prefix_entries < window || prefix_entries > Shared::kCandidateCapacity);
  if (!pivot_missed) {
    collect_round(chunk_values, chunk_warp_begin, chunk_end, rounds);
  } else {
    __syncthreads();  // the sort buffer and the counters are rewritten
    collect_alive_from_whole_prefix<Shared>(sh, beta, prefix_len, window);
    for (int i = tid; i < chunk_len; i += kChunkThreads) {
      sh.work.sort.keys[0][window + i] = __float_as_uint(__ldg(beta + chunk_first + i));
      sh.slot_index[window + i] = static_cast<unsigned short>(chunk_first + i);
    }
    prefix_entries = window;
    collected = window + chunk_len;
  }
  __syncthreads();
  stamp(3);
  if (stops_after(stop_after_stage, 2)) return;

  // 3. The joint rank order, the local keys (its head up to the w-th prefix key) and their positions.
  unsigned int lowest, top;
  to_rank_keys(sh, collected, lowest, top);
  // n: the sorted entries; slots: the collection slots they come from (the bin order drops entries but keeps the
  // slots, the cut renumbers them).
  int n = collected, slots = collected;
  unsigned int cut_bin = 0;
  const unsigned short* sorted_slots =
      bin_sort_collected(sh, collected, prefix_entries, window, lowest, top, n, cut_bin);
  stamp(4);
  if (sorted_slots == nullptr) {  // crowded bins: the cut, then the LSD sort
    if (prefix_entries >= window + kCutMinSurplus) cut_after_window(sh, n, prefix_entries, cut_bin, lowest, top);
    slots = n;
    sorted_slots = radix_sort_collected<Shared>(sh, n, lowest, top);
  }
  stamp(5);
  if (stops_after(stop_after_stage, 3)) return;
  if (prefix_entries >= window) {  // block-uniform
    const int steps = (n + kChunkThreads - 1) / kChunkThreads, warp_first = warp * steps * 32;
    int count = 0;
    for (int s = 0; s < steps; ++s) {
      const int i = warp_first + 32 * s + lane;
      count += __popc(__ballot_sync(0xFFFFFFFFu, i < n && sorted_slots[i] < prefix_entries));
    }
    if (lane == 0) warp_prefix_entries[warp] = count;
    __syncthreads();
    int seen = __reduce_add_sync(0xFFFFFFFFu, lane < warp ? warp_prefix_entries[lane] : 0);
    if (seen < window && window <= seen + count) {
      for (int s = 0; s < steps; ++s) {
        const int i = warp_first + 32 * s + lane;
        unsigned int ballot = __ballot_sync(0xFFFFFFFFu, i < n && sorted_slots[i] < prefix_entries);
        if (seen + __popc(ballot) >= window) {
          for (int skip = window - seen; skip > 1; --skip) ballot &= ballot - 1;  // the (w − seen)-th set lane
          if (lane == 0) local_len_shared = warp_first + 32 * s + __ffs(ballot);
          break;
        }
        seen += __popc(ballot);
      }
    }
    __syncthreads();
  }
  const int local_len = prefix_entries >= window ? local_len_shared : n;  // M: up to T, or every key
  for (int r = tid; r < local_len; r += kChunkThreads) {
    const int slot = sorted_slots[r];
    atomicOr(&sh.slot_bits[slot >> 5], 1u << (slot & 31));
  }
  __syncthreads();
  if (warp == 0) {  // local keys in the slot words before each one
    const int words = (slots + 31) / 32, per_lane = (words + 31) / 32;
    const int first = min(words, lane * per_lane), last = min(words, first + per_lane);
    int count = 0;
    for (int i = first; i < last; ++i) count += __popc(sh.slot_bits[i]);
    int inclusive = count;
#pragma unroll
    for (int offset = 1; offset < 32; offset <<= 1) {
      const int value = __shfl_up_sync(0xFFFFFFFFu, inclusive, offset);
      if (lane >= offset) inclusive += value;
    }
    int running = inclusive - count;
    for (int i = first; i < last; ++i) {
      sh.slot_bits_before[i] = running;
      running += __popc(sh.slot_bits[i]);
    }
  }
  __syncthreads();
  for (int r = tid; r < local_len; r += kChunkThreads) {
    const int slot = sorted_slots[r];
    const int position =
        sh.slot_bits_before[slot >> 5] + __popc(sh.slot_bits[slot >> 5] & ((1u << (slot & 31)) - 1));
    const int index = sh.slot_index[slot];
    sh.sorted_position[r] = static_cast<unsigned short>(position);
    sh.local_index[position] = static_cast<unsigned short>(index);
    if (index >= chunk_first) sh.chunk_local[index - chunk_first] = 1;
  }
  __syncthreads();
  stamp(6);
  if (stops_after(stop_after_stage, 4)) return;

  // 4. The tables (they overwrite the sort buffers). earlier_positions[rb][bucket] first holds the bucket's positions
  //    ranked inside block rb; an exclusive prefix OR over rb makes it the positions ranked before block rb (its
  //    popcount is the prefix count).
  const int blocks = (local_len + 63) / 64;
  for (int i = tid; i < blocks * blocks; i += kChunkThreads)
    sh.work.tables.members[i] = sh.work.tables.earlier_positions[i] = 0;
  __syncthreads();
  // 32-bit halves of the 64-bit masks (little-endian): native shared atomics.
  unsigned int* members_words = reinterpret_cast<unsigned int*>(sh.work.tables.members);
  unsigned int* earlier_words = reinterpret_cast<unsigned int*>(sh.work.tables.earlier_positions);
  for (int r = tid; r < local_len; r += kChunkThreads) {
    const int position = sh.sorted_position[r];
    const int cell = (r >> 6) * blocks + (position >> 6);
    atomicOr(&members_words[2 * cell + ((r >> 5) & 1)], 1u << (r & 31));
    atomicOr(&earlier_words[2 * cell + ((position >> 5) & 1)], 1u << (position & 31));
  }
  __syncthreads();
  for (int bucket = warp; bucket < blocks; bucket += kChunkWarps) {  // one warp per bucket, 32 rank blocks a step
    unsigned long long carry = 0;
    for (int rb0 = 0; rb0 < blocks; rb0 += 32) {
      const int rb = rb0 + lane;
      unsigned long long* cell = &sh.work.tables.earlier_positions[rb * blocks + bucket];
      const unsigned long long in_block = rb < blocks ? *cell : 0;
      unsigned long long inclusive = in_block;
#pragma unroll
      for (int offset = 1; offset < 32; offset <<= 1) {
        const unsigned long long value = __shfl_up_sync(0xFFFFFFFFu, inclusive, offset);
        if (lane >= offset) inclusive |= value;
      }
      const unsigned long long before_lane = __shfl_up_sync(0xFFFFFFFFu, inclusive, 1);
      if (rb < blocks) *cell = carry | (lane > 0 ? before_lane : 0ull);
      carry |= __shfl_sync(0xFFFFFFFFu, inclusive, 31);
    }
  }
  __syncthreads();
  stamp(7);
  if (stops_after(stop_after_stage, 5)) return;

  // 5. Death of the key at each local rank, and of the chunk keys that are not local keys (never kept).
  const bool last_chunk = chunk_end == key_len;
  for (int i = tid; i < chunk_len; i += kChunkThreads)
    if (!sh.chunk_local[i]) death[chunk_first + i] = chunk_first + i;
  for (int t = tid; t < local_len; t += kChunkThreads) {
    const int position = sh.sorted_position[t];
    int local_death = local_len;  // kept past the chunk's last row
    if (t >= window) {            // t better keys exist, so the w-th smallest position among them does
      const unsigned long long* earlier_row = sh.work.tables.earlier_positions + (t >> 6) * blocks;
      const unsigned long long* member_row = sh.work.tables.members + (t >> 6) * blocks;
      const unsigned long long earlier_in_block = (1ull << (t & 63)) - 1;
      // Walk the buckets, counting the positions ranked before t, to the one that holds the w-th.
      int counted = 0, bucket = 0;
      for (; bucket + 4 < blocks; bucket += 4) {  // groups of 4 buckets first: their loads go out together
        int in_group = 0;
#pragma unroll
        for (int u = 0; u < 4; ++u)
          in_group += __popcll(earlier_row[bucket + u]) + __popcll(member_row[bucket + u] & earlier_in_block);
        if (counted + in_group >= window) break;
        counted += in_group;
      }
      for (; bucket < blocks - 1; ++bucket) {
        const int in_bucket = __popcll(earlier_row[bucket]) + __popcll(member_row[bucket] & earlier_in_block);
        if (counted + in_bucket >= window) break;
        counted += in_bucket;
      }
      // That bucket's positions ranked before t: those of earlier rank blocks, plus those of t's own block before t.
      unsigned long long ranked_before = earlier_row[bucket];
      for (unsigned long long own = member_row[bucket] & earlier_in_block; own != 0; own &= own - 1)
        ranked_before |= 1ull << (sh.sorted_position[((t >> 6) << 6) + __ffsll(own) - 1] & 63);
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
    const int key = sh.local_index[position];
    if (local_death < local_len)
      death[key] = sh.local_index[local_death];
    else if (last_chunk)
      death[key] = key_len;
    if (chunk_keys.keys != nullptr)  // a local key dies on a chunk row (local_death ≥ n_I) or after the chunk
      chunk_keys.keys[(static_cast<long long>(segment) * gridDim.x + blockIdx.x) * chunk_keys.capacity + position] =
          static_cast<unsigned int>(key) << 16 |
          (local_death < local_len ? static_cast<unsigned int>(sh.local_index[local_death] - chunk_first)
                                   : kChunkKeyAliveAfter);
  }
  if (chunk_keys.keys != nullptr && tid == 0)
    chunk_keys.counts[static_cast<long long>(segment) * gridDim.x + blockIdx.x] = local_len;
  if (trace != nullptr) {
    __syncthreads();
    stamp(8);
    if (tid == 0) {
      trace[9] = global_time_ns();
      trace[10] = collected;
      trace[11] = n;
      trace[12] = prefix_entries;
      trace[13] = local_len + (pivot_missed ? (1ll << 32) : 0);
    }
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

#ifdef DMASCOPE_KERNEL_PROFILING
ChunkedBuildProfiling chunked_profiling;  // set_chunked_build_profiling; read by the host side of each launch

// The trace of ChunkedBuildProfiling::trace_launch: per CTA and stage, to stderr.
void print_chunked_trace(const std::vector<long long>& trace, int chunks, int segments) {
  int device = 0, clock_khz = 1;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device);
  const double us_per_cycle = 1e3 / clock_khz;
  long long first_start = trace[0];
  for (int c = 0; c < chunks * segments; ++c) first_start = std::min(first_start, trace[c * kTraceSlots]);
  std::fprintf(stderr,
               "chunked trace (µs; start/end by the global timer from the first CTA's start, stages by SM clock at "
               "%d MHz)\n  seg chunk  start    end | pivot collect   cut  sort  local tables death | total | "
               "collected sorted prefix  local missed\n",
               clock_khz / 1000);
  for (int s = 0; s < segments; ++s)
    for (int c = 0; c < chunks; ++c) {
      const long long* t = trace.data() + (static_cast<std::size_t>(s) * chunks + c) * kTraceSlots;
      auto stage = [&](int from) { return (t[from + 1] - t[from]) * us_per_cycle; };
      std::fprintf(stderr,
                   "  %3d %5d %6.2f %6.2f | %5.2f %7.2f %5.2f %5.2f %6.2f %6.2f %5.2f | %5.2f | %9lld %6lld %6lld "
                   "%6lld %6lld\n",
                   s, c, (t[0] - first_start) * 1e-3, (t[9] - first_start) * 1e-3, stage(1), stage(2), stage(3),
                   stage(4), stage(5), stage(6), stage(7), (t[8] - t[1]) * us_per_cycle, t[10], t[11], t[12],
                   t[13] & 0xFFFFFFFFll, t[13] >> 32);
    }
}

template <int kItems>
void launch_death_by_chunks(const MaskBuildPlan& plan, const float* beta, int* death, cudaStream_t stream,
                            const ChunkKeysOutput& chunk_keys) {
  const int stop_after_stage = chunked_profiling.stop_after_stage, trace_launch = chunked_profiling.trace_launch;
  static int launches = 0;
  const dim3 grid((plan.key_len + kChunkKeys - 1) / kChunkKeys, plan.segments);
  long long* trace = nullptr;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (trace_launch > 0 && ++launches == trace_launch && cudaStreamIsCapturing(stream, &capture) == cudaSuccess &&
      capture == cudaStreamCaptureStatusNone) {
    DMASCOPE_CUDA_CHECK(cudaMalloc(&trace, sizeof(long long) * kTraceSlots * grid.x * grid.y));
    DMASCOPE_CUDA_CHECK(cudaMemsetAsync(trace, 0, sizeof(long long) * kTraceSlots * grid.x * grid.y, stream));
  }
  death_by_chunks<kItems><<<grid, kChunkThreads, sizeof(ChunkedShared<kItems>), stream>>>(
      beta, plan.key_len, plan.window, death, stop_after_stage, trace, chunk_keys);
  DMASCOPE_CUDA_CHECK_LAUNCH();
  if (trace != nullptr) {
    std::vector<long long> host(static_cast<std::size_t>(kTraceSlots) * grid.x * grid.y);
    DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
    DMASCOPE_CUDA_CHECK(cudaMemcpy(host.data(), trace, host.size() * sizeof(long long), cudaMemcpyDeviceToHost));
    DMASCOPE_CUDA_CHECK(cudaFree(trace));
    print_chunked_trace(host, static_cast<int>(grid.x), static_cast<int>(grid.y));
  }
}
#else
template <int kItems>
void launch_death_by_chunks(const MaskBuildPlan& plan, const float* beta, int* death, cudaStream_t stream,
                            const ChunkKeysOutput& chunk_keys) {
  const dim3 grid((plan.key_len + kChunkKeys - 1) / kChunkKeys, plan.segments);
  death_by_chunks<kItems><<<grid, kChunkThreads, sizeof(ChunkedShared<kItems>), stream>>>(
      beta, plan.key_len, plan.window, death, -1, nullptr, chunk_keys);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}
#endif

static_assert(ChunkedShared<kItemsLarge>::kWindowCapacity == kChunkedMaxWindow, "w ≤ kChunkedMaxWindow fits the larger layout");
static_assert(sizeof(ChunkedShared<kItemsLarge>) <= 227 * 1024 - 1024,
              "the larger layout fits a Hopper CTA's shared memory, with 1 KB left for the static variables");
static_assert(kChunkedMaxKeys <= 65536, "key indices fit 16 bits");
static_assert(ChunkedShared<kItemsSmall>::kLocalCapacity % 8 == 0 && ChunkedShared<kItemsLarge>::kLocalCapacity % 8 == 0,
              "the forward reads chunk keys 8 at a time (attention_fwd_sm90a.cu)");
static_assert(ChunkedShared<kItemsLarge>::kSortCapacity < 65536, "sort slots and digit offsets fit 16 bits");
static_assert(ChunkedShared<kItemsSmall>::kSortCapacity % kChunkThreads == 0 &&
                  ChunkedShared<kItemsLarge>::kSortCapacity % kChunkThreads == 0, "whole words of the slot bitmap");

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

MaskBuildPlan make_mask_build_plan(int segments, int key_len, int window, MaskVariant variant,
                                   MaskBuildChoice choice) {
  MaskBuildPlan plan;
  plan.segments = segments;
  plan.key_len = key_len;
  plan.window = window;
  plan.variant = variant;
  const bool sort_forced = choice == MaskBuildChoice::Sort;  // the general path, for before/after timings
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

int chunk_keys_capacity(const MaskBuildPlan& plan) {
  if (plan.method != MaskBuildMethod::Chunked || plan.window >= plan.key_len) return 0;
  return plan.window <= ChunkedShared<kItemsSmall>::kWindowCapacity ? ChunkedShared<kItemsSmall>::kLocalCapacity
                                                                     : ChunkedShared<kItemsLarge>::kLocalCapacity;
}

bool launch_mask_build(const MaskBuildPlan& plan, const float* beta, std::int32_t* death, void* workspace,
                       cudaStream_t stream, const ChunkKeysOutput* chunk_keys) {
  const long long total = static_cast<long long>(plan.segments) * plan.key_len;
  if (total == 0) return false;
  constexpr int kThreads = 256;
  if (plan.window >= plan.key_len) {  // every key kept on every row it may see: dense causal
    death_all_kept<<<blocks_for(total, kThreads), kThreads, 0, stream>>>(total, plan.key_len, death);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    return false;
  }
  if (plan.method == MaskBuildMethod::Chunked) {
    const bool with_keys = chunk_keys != nullptr && chunk_keys->keys != nullptr;
    if (with_keys && chunk_keys->capacity != chunk_keys_capacity(plan))
      throw_kernel_error("chunk keys: capacity " + std::to_string(chunk_keys->capacity) + ", the build needs " +
                         std::to_string(chunk_keys_capacity(plan)));
    const ChunkKeysOutput output = with_keys ? *chunk_keys : ChunkKeysOutput{};
    if (plan.window <= ChunkedShared<kItemsSmall>::kWindowCapacity)
      launch_death_by_chunks<kItemsSmall>(plan, beta, death, stream, output);
    else
      launch_death_by_chunks<kItemsLarge>(plan, beta, death, stream, output);
    return with_keys;
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
    return false;
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
  return false;
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
  const int p0 = offset + qt * kTileRows, p_last = offset + min(q_len, qt * kTileRows + kTileRows) - 1;
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
constexpr int kGatherChunkRows = kGatherChunkTiles * kTileRows;
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
  const int first_row = offset + first_tile * kTileRows;
  const int chunk_rows = min(kGatherChunkRows, key_len - first_row);
  const int* segment_death = death + static_cast<long long>(segment) * key_len;
  const unsigned int lanes_below = (1u << lane) - 1;

  for (int i = threadIdx.x; i < chunk_rows; i += blockDim.x) chunk_death[i] = __ldg(segment_death + first_row + i);
  const int slice = ((first_row + kWarps - 1) / kWarps + 31) / 32 * 32;
  const int begin = min(first_row, warp * slice), end = min(first_row, begin + slice);
  auto load_deaths = [&](int base, int (&deaths)[kStepsAhead]) {  // base < end
#pragma unroll  // unconditional loads from clamped addresses: a guarded load would wait for the one before it
    for (int step = 0; step < kStepsAhead; ++step)
      deaths[step] = __ldg(segment_death + min(base + 32 * step + lane, end - 1));
#pragma unroll
    for (int step = 0; step < kStepsAhead; ++step)
      if (base + 32 * step + lane >= end) deaths[step] = 0;  // 0: not alive after first_row
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
  const int p0 = offset + tile * kTileRows, p_last = offset + min(q_len, tile * kTileRows + kTileRows) - 1;
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

}  // namespace

void launch_gather_lists(const std::int32_t* death, int segments, int q_len, int key_len, int q_tiles, int capacity,
                         std::int32_t* lists, std::int32_t* counts, cudaStream_t stream, GatherMethod method) {
  if (segments == 0 || q_tiles == 0) return;
  if (method == GatherMethod::Auto)
    method = capacity <= kChunkedGatherMaxCapacity ? GatherMethod::Chunked : GatherMethod::Scan;
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

}  // namespace dmascope::cuda::detail

#ifdef DMASCOPE_KERNEL_PROFILING
namespace dmascope::cuda {
void set_chunked_build_profiling(const ChunkedBuildProfiling& profiling) { detail::chunked_profiling = profiling; }
}  // namespace dmascope::cuda
#endif
