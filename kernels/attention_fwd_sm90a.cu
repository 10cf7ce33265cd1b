// Forward attention with Hopper's warpgroup MMA (wgmma, sm_90a): the same computation as attention_fwd.cu — gathered
// keys (DMA) or the causal prefix (dense), scores q·k·scale + β[j] on kept entries, fp32 online softmax in log2
// units, P rounded to the input type for P·V, fp32 accumulation — with the two products issued by a warpgroup:
//   S[64×64] = Q·Kᵀ   from shared memory (Q and K tiles K-major, 128-byte swizzle), D/16 wgmma m64n64k16;
//   O[64×D] += P·V    P from the score registers (the accumulator layout of S is the A-fragment layout of P), V
//                     MN-major from shared memory (transposed by the instruction), 4 wgmma m64nDk16.
// One warpgroup (128 threads) per query head; a CTA holds the Heads query heads of a GQA group that share a kv head
// and a bias head, so they share every gathered K/V tile: one gather per CTA for up to 4 heads.
// Keys arrive in kStages stages, blocks b + 1 and b + 2 in flight while block b is computed: K and V rows by 16-byte
// cp.async into the swizzled layout, key index, β and death by the first 64 threads. No CTA barrier per block: each
// stage has a "full" mbarrier (cp.async.mbarrier.arrive tracks the copies) and an "empty" one (every thread arrives
// once its warpgroup's P·V of the stage's block is done); a thread refills a stage with block b + 2 after its own P·V
// of block b is issued, once the stage (of block b + 2 − kStages) is empty. So the warpgroups of a CTA drift apart and
// one's softmax overlaps another's products (NVIDIA H200: −15 % at d128 with 4 heads per CTA, bench/h200/README.md).
// Each tile's gathered list is first partitioned in shared memory (keys kept on every row of the tile first), so most
// key blocks skip the per-element mask; the exp2 reference moves lazily (see the softmax), so O is rarely rescaled.
// Built for sm_90a only (its own object library); launch_attention_forward_sm90a returns false on any other GPU and
// the caller runs the mma.sync kernel.
#include <cfloat>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <atomic>
#include <climits>
#include <type_traits>

#include "kernels/attention_fwd.cuh"
#include "kernels/cuda_check.h"
#include "kernels/forward_common.cuh"
#include "kernels/mask_build.cuh"
#include "kernels/wgmma.cuh"

namespace dmascope::cuda::detail {

namespace {

constexpr int kWarpgroupThreads = 128;
// K/V stages. While block b is computed, blocks b + 1 and b + 2 load; the stage that block b + 2 refills is that of
// block b + 2 − kStages, which every thread released kRefillLag = kStages − 2 iterations earlier. Three: a thread
// waits for the slowest thread of its CTA to finish the previous block. Four (warpgroups may drift two blocks apart
// before anyone waits) measured equal at d64 and 3-4 % slower at d128 (NVIDIA H200, bench/h200/README.md).
#ifndef DMASCOPE_WGMMA_STAGES
#define DMASCOPE_WGMMA_STAGES 3
#endif
constexpr int kStages = DMASCOPE_WGMMA_STAGES;
constexpr int kRefillLag = kStages - 2;
static_assert(kStages >= 3, "two blocks in flight while one is computed");
// Gathered tiles whose list fits (capacity ≤ w + 64 for w ≤ 4096) are partitioned in shared memory: the keys kept on
// every row of the tile first, then the rest. Key blocks made only of the former need no per-element mask.
constexpr int kSharedListCapacity = 4096 + kTileRows;  // the chunked build's largest w
constexpr int kPartitionWarps = 16;  // at most 512 threads
constexpr float kLazyRescale = 8.0f;  // log2 units: P ≤ 256 (see the softmax)
// How a block's scores take β (see the softmax).
enum ScoreForm { kScaled, kLog2Beta, kRounded };

template <int D>
constexpr int tile_bytes() {
  return kTileRows * D * 2;  // kTileRows rows of D 16-bit elements
}
// Q tiles, K and V × kStages, key index/β/death × kStages, the partitioned list and its scan (gathered only), and
// slack to align the tiles to 1024 bytes.
constexpr int shared_bytes(int d, int heads, bool gathered) {
  return heads * kTileRows * d * 2 + 2 * kStages * kTileRows * d * 2 + 3 * kStages * kTileKeys * 4 +
         (gathered ? (kSharedListCapacity + 2 * kPartitionWarps) * 4 : 0) + 1024;
}
template <int D, int Heads, bool Gathered>
constexpr int shared_bytes() {
  static_assert(tile_bytes<D>() == kTileRows * D * 2, "shared_bytes(d, heads, gathered) counts tiles the same way");
  return shared_bytes(D, Heads, Gathered);
}

// At d = 64 two CTAs of two heads (or four of one) share an SM: at most 128 registers per thread.
template <class T, int D, bool Gathered, int Heads>
__global__ void __launch_bounds__(Heads * kWarpgroupThreads, D == 64 ? 4 / Heads : 1) attention_forward_sm90a(ForwardParams p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr bool kF16 = std::is_same_v<T, __half>;
  constexpr int kThreads = Heads * kWarpgroupThreads;
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kTileBytes = tile_bytes<D>();
  extern __shared__ __align__(1024) unsigned char shared_raw[];
  unsigned char* const shared = shared_raw + ((1024 - (shared_address(shared_raw) & 1023)) & 1023);
  unsigned char* const q_tiles = shared;
  unsigned char* const k_tiles = q_tiles + Heads * kTileBytes;
  unsigned char* const v_tiles = k_tiles + kStages * kTileBytes;
  int* const key_index = reinterpret_cast<int*>(v_tiles + kStages * kTileBytes);  // [kStages][64]
  float* const key_beta = reinterpret_cast<float*>(key_index + kStages * kTileKeys);
  int* const key_death = reinterpret_cast<int*>(key_beta + kStages * kTileKeys);
  int* const shared_list = key_death + kStages * kTileKeys;                // [kSharedListCapacity] (gathered only)
  int* const warp_counts = shared_list + kSharedListCapacity;          // [2][kPartitionWarps]: kept on all rows, others
  __shared__ unsigned long long stage_full[kStages], stage_empty[kStages];  // mbarriers (see the key blocks' loads)
  if (threadIdx.x == 0)
    for (int stage = 0; stage < kStages; ++stage) {
      mbarrier_init(shared_address(&stage_full[stage]), kThreads);
      mbarrier_init(shared_address(&stage_empty[stage]), kThreads);
    }

  const unsigned long long started = p.cta_nanoseconds ? global_nanoseconds() : 0;
  const auto [qt, first_head, b, kv_head, bias_head, r0, p0, p_last, segment, q, k, v, beta, death, list] =
      forward_cta<T, D>(p, Heads, Gathered);
  const int warpgroup = threadIdx.x / kWarpgroupThreads;
  const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
  const int h = first_head + warpgroup;

  // Q tiles of the CTA's heads → shared, swizzled (rows past q_len are zeros).
  for (int c = threadIdx.x; c < Heads * kTileRows * kChunks; c += kThreads) {
    const int slot = c / (kTileRows * kChunks), row = (c / kChunks) % kTileRows, chunk = c % kChunks;
    const bool valid = r0 + row < p.q_len;
    const T* source = q + static_cast<long long>(slot) * p.q_len * D + row * D + chunk * 8;
    copy_16_async(q_tiles + slot * kTileBytes + swizzled_offset(row, chunk), valid ? source : q, valid ? 16 : 0);
  }
  // Launched as a programmatic dependent of the chunked mask build (PDL): the CTA got here while the mask build may
  // still run — barriers initialized, Q on its way — and waits for it before reading anything it writes.
  if constexpr (Gathered)
    if (p.programmatic) asm volatile("griddepcontrol.wait;\n" ::: "memory");
  constexpr bool kChunkFed = Gathered && D == kChunkFedDim;  // see entries_listed and ForwardParams::beta_log2
  const int chunk_first = p0 / kChunkRows * kChunkRows;      // the first row of the tile's mask-build chunk
  // The tile's gathered keys, partitioned in shared memory where they fit: the keys kept on every row of the tile
  // (j ≤ p0 and death > p_last) first, in list order, the others from the end of the buffer. Key blocks made only of
  // the former need no per-element mask. Which key lands where changes only the order of the softmax sums.
  const bool from_chunks = Gathered && p.chunk_keys != nullptr;
  // At d64 a tile's list from the chunk keys holds the entries themselves, key and death in the chunk (see key_at):
  // each key block's deaths then come from shared memory, not from a load per key of the death indices.
  const bool entries_listed = kChunkFed && from_chunks;
  const bool shared_keys = Gathered && (from_chunks || p.capacity <= kSharedListCapacity);
  int key_count = Gathered ? (from_chunks ? 0 : p.counts[segment * p.q_tiles + qt]) : p_last + 1;
  int whole_keys = 0;  // leading keys of the partitioned list kept on every row of the tile
  // A partition round: each warp publishes in warp_counts how many of its keys are kept on every row and how many are
  // not; every thread then sums those of the warps before its own (its offsets) and of all (the round's totals).
  struct RoundCounts {
    int whole_before = 0, other_before = 0, whole_in_round = 0, other_in_round = 0;
  };
  auto sum_warp_counts = [&](int warp_in_cta) {
    RoundCounts counts;
    for (int w = 0; w < kThreads / 32; ++w) {
      const int kept_all = warp_counts[w], kept_some = warp_counts[kPartitionWarps + w];
      if (w < warp_in_cta) counts.whole_before += kept_all, counts.other_before += kept_some;
      counts.whole_in_round += kept_all;
      counts.other_in_round += kept_some;
    }
    return counts;
  };
  if (from_chunks) {
    // The chunked mask build left, per 1024 rows, its keys kept on some row (ascending, with their death row in the
    // chunk or "after it"): this tile keeps born ≤ last with death > max(born, first), every row when also born ≤
    // first and death > last. 8 entries per thread per round (two 16-byte loads: one round for w ≤ 1024 with two
    // heads per CTA), scans of the counts per warp.
    constexpr int kPerThread = 8;
    const int first = p0 - chunk_first, last = p_last - chunk_first;  // the tile's rows in the chunk
    const long long chunk_slot = segment * p.chunks + p0 / kChunkRows;
    const unsigned* entries = p.chunk_keys + chunk_slot * p.chunk_capacity;
    // Entries at .. at + 7, read within the chunk's capacity (a multiple of 8) without waiting for its count: the
    // two loads then overlap instead of costing two L2 round trips; entries past the count are ignored below.
    struct Eight {
      uint4 low, high;
    };
    auto load_eight = [&](int at) {
      Eight eight{make_uint4(0u, 0u, 0u, 0u), make_uint4(0u, 0u, 0u, 0u)};
      if (at < p.chunk_capacity) {
        eight.low = __ldg(reinterpret_cast<const uint4*>(entries + at));
        eight.high = __ldg(reinterpret_cast<const uint4*>(entries + at + 4));
      }
      return eight;
    };
    Eight next = load_eight(kPerThread * threadIdx.x);  // each round's loads go out before the previous round's work
    const int entry_count = p.chunk_key_counts[chunk_slot];
    const int warp_in_cta = threadIdx.x / 32;
    int others = 0;
    for (int base = 0; base < entry_count; base += kPerThread * kThreads) {
      const int at = base + kPerThread * threadIdx.x;
      const Eight eight = next;
      if (base + kPerThread * kThreads < entry_count) next = load_eight(at + kPerThread * kThreads);
      const unsigned entry[kPerThread] = {eight.low.x,  eight.low.y,  eight.low.z,  eight.low.w,
                                          eight.high.x, eight.high.y, eight.high.z, eight.high.w};
      unsigned whole_bits = 0, other_bits = 0;
#pragma unroll
      for (int i = 0; i < kPerThread; ++i) {
        const int born = static_cast<int>(entry[i] >> 16) - chunk_first, dies = static_cast<int>(entry[i] & 0xFFFFu);
        const bool valid = at + i < entry_count;
        const bool whole = valid && born <= first && dies > last;
        const bool kept = valid && born <= last && dies > max(born, first);
        whole_bits |= static_cast<unsigned>(whole) << i;
        other_bits |= static_cast<unsigned>(kept && !whole) << i;
      }
      const int my_whole = __popc(whole_bits), my_other = __popc(other_bits);
      int whole_scan = my_whole, other_scan = my_other;  // inclusive over the warp's lanes
#pragma unroll
      for (int delta = 1; delta < 32; delta <<= 1) {
        const int whole_below = __shfl_up_sync(0xFFFFFFFFu, whole_scan, delta);
        const int other_below = __shfl_up_sync(0xFFFFFFFFu, other_scan, delta);
        if (lane >= delta) whole_scan += whole_below, other_scan += other_below;
      }
      if (lane == 31) {
        warp_counts[warp_in_cta] = whole_scan;
        warp_counts[kPartitionWarps + warp_in_cta] = other_scan;
      }
      __syncthreads();
      const RoundCounts round = sum_warp_counts(warp_in_cta);
      int whole_slot = whole_keys + round.whole_before + whole_scan - my_whole;
      int other_slot = others + round.other_before + other_scan - my_other;
#pragma unroll
      for (int i = 0; i < kPerThread; ++i) {  // keys, or at d64 the entries themselves (see entries_listed)
        const int kept = entries_listed ? static_cast<int>(entry[i]) : static_cast<int>(entry[i] >> 16);
        if ((whole_bits >> i) & 1) shared_list[whole_slot++] = kept;  // ≤ w + 64 keys in all: they fit
        else if ((other_bits >> i) & 1) shared_list[kSharedListCapacity - 1 - other_slot++] = kept;
      }
      whole_keys += round.whole_in_round;
      others += round.other_in_round;
      __syncthreads();  // warp_counts is rewritten by the next round; the list is read after the last one
    }
    key_count = whole_keys + others;
    if (threadIdx.x == 0) p.counts[segment * p.q_tiles + qt] = key_count;  // for executed_pairs and instrumentation
  } else if (shared_keys) {
    const unsigned lanes_before = (1u << lane) - 1u;
    const int warp_in_cta = threadIdx.x / 32;
    int others = 0;  // keys of earlier chunks not kept on every row
    for (int first = 0; first < key_count; first += kThreads) {
      const int t = first + threadIdx.x;
      const int j = t < key_count ? __ldg(list + t) : -1;
      const bool whole = j >= 0 && j <= p0 && __ldg(death + j) > p_last;
      const unsigned whole_lanes = __ballot_sync(0xFFFFFFFFu, whole);
      const unsigned other_lanes = __ballot_sync(0xFFFFFFFFu, j >= 0 && !whole);
      if (lane == 0) {
        warp_counts[warp_in_cta] = __popc(whole_lanes);
        warp_counts[kPartitionWarps + warp_in_cta] = __popc(other_lanes);
      }
      __syncthreads();
      const RoundCounts round = sum_warp_counts(warp_in_cta);
      if (whole)
        shared_list[whole_keys + round.whole_before + __popc(whole_lanes & lanes_before)] = j;
      else if (j >= 0)
        shared_list[kSharedListCapacity - 1 - (others + round.other_before + __popc(other_lanes & lanes_before))] = j;
      whole_keys += round.whole_in_round;
      others += round.other_in_round;
      __syncthreads();  // warp_counts is rewritten by the next chunk; the list is read after the last one
    }
  }
  const int blocks = (key_count + kTileKeys - 1) / kTileKeys;
  // The t-th gathered key (t < key_count); the others of a shared list run backwards from the end of its buffer.
  // With entries_listed, a list entry is (key << 16) | its death row in the chunk (mask_build.cuh).
  auto listed = [&](int t) { return shared_list[t < whole_keys ? t : kSharedListCapacity - 1 - (t - whole_keys)]; };
  auto key_at = [&](int t) {
    if constexpr (!Gathered) return t;
    else if (kChunkFed && entries_listed) return static_cast<int>(static_cast<unsigned>(listed(t)) >> 16);
    else return shared_keys ? listed(t) : __ldg(list + t);
  };
  // The death of the t-th gathered key j, as far as this tile's rows can tell: from its chunk entry (a key alive past
  // the chunk gets INT_MAX), else from the death indices (INT_MAX for dense).
  auto death_at = [&](int t, int j) {
    if (kChunkFed && entries_listed) {
      const unsigned dies = static_cast<unsigned>(listed(t)) & 0xFFFFu;
      return dies == kChunkKeyAliveAfter ? INT_MAX : chunk_first + static_cast<int>(dies);
    }
    return death ? __ldg(death + j) : INT_MAX;
  };

  // Key blocks: thread t copies chunk t % kChunks of rows t / kChunks + i · kRowStep (i < kLoads) of K and V, and the
  // first kTileKeys threads (whole warps) the key index, β and death of row t. Rows past key_count copy zeros
  // (src-size 0) from key 0 and are masked (index INT_MAX). Branch-free but for those warps: this runs once per
  // thread and block, and was a quarter of the loop's instructions with a divergent β/death branch in every warp.
  // A stage's "full" mbarrier tracks every thread's copies into it and its "empty" one the threads done with it
  // (their P·V of its block waited for); a thread refills a stage once all are done with it, late in its own
  // iteration. No CTA barrier per block: the warpgroups drift apart by up to a block, so one's softmax overlaps
  // another's products.
  constexpr int kLoads = kTileKeys * kChunks / kThreads, kRowStep = kThreads / kChunks;
  static_assert(kLoads >= 1 && kLoads * kThreads == kTileKeys * kChunks, "a block's copies divide among the threads");
  static_assert(kThreads >= kTileKeys && kTileKeys % 32 == 0, "whole warps copy the key indices, β and death");
  const int load_row = threadIdx.x / kChunks;
  const int load_chunk_bytes = (threadIdx.x % kChunks) * 16;
  const char* const k_chunk = reinterpret_cast<const char*>(k) + load_chunk_bytes;
  const char* const v_chunk = reinterpret_cast<const char*>(v) + load_chunk_bytes;
  auto load_block = [&](int block, int stage) {
#pragma unroll
    for (int i = 0; i < kLoads; ++i) {
      const int t = block * kTileKeys + load_row + i * kRowStep;
      const bool valid = t < key_count;
      const int j = valid ? key_at(t) : 0;
      const long long row_bytes = static_cast<long long>(j) * (D * 2);
      const int at = stage * kTileBytes + swizzled_offset(load_row + i * kRowStep, threadIdx.x % kChunks);
      copy_16_async(k_tiles + at, k_chunk + row_bytes, valid ? 16 : 0);
      copy_16_async(v_tiles + at, v_chunk + row_bytes, valid ? 16 : 0);
    }
    if (threadIdx.x < kTileKeys) {
      const int t = block * kTileKeys + threadIdx.x, slot = stage * kTileKeys + threadIdx.x;
      const bool valid = t < key_count;
      const int j = valid ? key_at(t) : 0;
      key_index[slot] = valid ? j : INT_MAX;  // INT_MAX > every position: masked
      if (valid && beta) copy_4_async(&key_beta[slot], beta + j);
      else key_beta[slot] = 0.0f;
      if (kChunkFed && entries_listed) key_death[slot] = valid ? death_at(t, j) : INT_MAX;  // entry in shared memory
      else if (valid && death) copy_4_async(&key_death[slot], death + j);
      else key_death[slot] = INT_MAX;
    }
    const unsigned full = shared_address(&stage_full[stage]);
    mbarrier_arrive_on_copies(full);  // completes when the copies above land
    mbarrier_arrive(full);            // and publishes the plain stores
  };
  // Q (issued before the list work, one copy group), then blocks 0..2 (tracked by the stages' barriers).
  commit_copies();
  __syncthreads();  // the barriers are initialized
  for (int block = 0; block < min(blocks, kStages); ++block) load_block(block, block);  // then refills, 2 ahead
  // Instrumented runs: the kept entries of the tile's gathered keys, one key per thread, while the first blocks'
  // copies are in flight, and outside the key-block loop (inside it the counting cost registers: a spill at d128 with
  // four heads per CTA). Each thread loads the death indices of its next kCountAhead keys before counting any, so
  // that a tile pays one load latency per kCountAhead · kThreads keys, not one per kThreads.
  if (std::int32_t* const kept_counters = kept_entry_counters(p, segment, qt, first_head);
      kept_counters && p.counters.shared_histogram) {
    // The row kept_counters is this CTA's alone (one CTA per bias head and tile counts): a histogram in shared memory
    // (past the kernel's own, see launch_typed) with shared atomics, then the whole row in plain stores. Global atomics
    // per key tile cost +13 % of the kernel at 32K, w 1024, 2/1, d64.
    int* const histogram = reinterpret_cast<int*>(shared_raw + shared_bytes<D, Heads, Gathered>());
    for (int t = threadIdx.x; t < p.counters.k_tiles; t += kThreads) histogram[t] = 0;
    __syncthreads();
    // The death indices of a thread's next four keys are loaded before any is counted: one load latency per
    // 4 · kThreads keys.
    constexpr int kCountAhead = 4;
    for (int base = 0; base < key_count; base += kThreads * kCountAhead) {
      int keys[kCountAhead], dies[kCountAhead];
#pragma unroll
      for (int u = 0; u < kCountAhead; ++u) {
        const int t = base + u * kThreads + static_cast<int>(threadIdx.x);
        keys[u] = t < key_count ? key_at(t) : -1;
        dies[u] = keys[u] >= 0 ? death_at(t, keys[u]) : INT_MAX;
      }
#pragma unroll
      for (int u = 0; u < kCountAhead; ++u) {
        const int rows = keys[u] < 0 ? 0 : max(0, min(dies[u], p_last + 1) - max(keys[u], p0));
        if (rows > 0) atomicAdd(&histogram[keys[u] / kTileKeys], rows);
      }
    }
    __syncthreads();
    for (int t = threadIdx.x; t < p.counters.k_tiles; t += kThreads) kept_counters[t] = histogram[t];
  } else if (kept_counters) {
    constexpr int kCountAhead = 4;
    for (int base = 0; base < key_count; base += kThreads * kCountAhead) {
      int keys[kCountAhead], dies[kCountAhead];
#pragma unroll
      for (int u = 0; u < kCountAhead; ++u) {
        const int t = base + u * kThreads + static_cast<int>(threadIdx.x);
        keys[u] = t < key_count ? key_at(t) : INT_MAX;
        dies[u] = keys[u] != INT_MAX ? death_at(t, keys[u]) : INT_MAX;
      }
#pragma unroll
      for (int u = 0; u < kCountAhead; ++u)
        if (base + u * kThreads < key_count) count_kept_entries(kept_counters, p0, p_last, keys[u], dies[u]);
    }
  }
  wait_copies<0>();  // the committed group: Q
  __syncthreads();   // every thread's share of Q is in shared memory

  const int row_a = warp * 16 + lane / 4;  // this thread's rows of its head: row_a and row_a + 8
  const int quad_col = (lane % 4) * 2;
  const int position_a = p0 + row_a, position_b = position_a + 8;
  const TileDescriptor q_tile = k_major_tile(shared_address(q_tiles + warpgroup * kTileBytes));
  const TileDescriptor k_tile = k_major_tile(shared_address(k_tiles));  // stage 0; stage s is s · kTileBytes on
  const TileDescriptor v_tile = mn_major_tile(shared_address(v_tiles));

  float o[D / 2];  // the m64nD accumulator: n-tile n holds o[4n..4n+3] (rows row_a, row_a + 8; 2 columns each)
#pragma unroll
  for (int i = 0; i < D / 2; ++i) o[i] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};  // row_max: the exp reference (log2 units)
  const float scale_log2 = p.scale * kLog2e;

  // block's stage and the parity of its fill (block / kStages & 1), kept as counters; those of block − 1 and of
  // block − kRefillLag (the stage refilled in iteration block) follow from them.
  int stage = 0;
  unsigned phase = 0;
  auto stage_before = [&](int back) { return stage >= back ? stage - back : stage + kStages - back; };
  auto phase_before = [&](int back) { return stage >= back ? phase : phase ^ 1u; };
  for (int block = 0; block < blocks; ++block) {
    mbarrier_wait(shared_address(&stage_full[stage]), phase);  // block is in shared memory
    fence_proxy_async();  // the copies (generic proxy) are read next by wgmma (async proxy)

    // S = Q Kᵀ for this warpgroup's head: 64 rows × 64 keys.
    float s[32];  // no initial value: the first wgmma ignores it (scale-d = 0)
    const unsigned stage_bytes = stage * kTileBytes;
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
      wgmma_m64n64k16_ss<kF16>(s, q_tile.at(k_major_slice_bytes(kk)), k_tile.at(stage_bytes + k_major_slice_bytes(kk)),
                               kk > 0);
    wgmma_commit();
    if (block > 0) {  // this warpgroup's P·V of block − 1 is done (its Q·Kᵀ of block may still run): release it
      wgmma_wait<1>();
      fence_registers(o);
      mbarrier_arrive(shared_address(&stage_empty[stage_before(1)]));
    }
    wgmma_wait<0>();
    fence_registers(s);

    // Mask, bias and the online softmax: scores (q·k·scale + β)·log2 e, P = 2^(s − m) by one FADD and ex2. Not
    // FlashAttention's 2^(s·log2 e − m·log2 e) by one FFMA: a trained layer's β reaches 1e8 and more (exp of
    // A·softplus(dt)), and there the rounding of m·log2 e alone exceeds 128, so P overflowed to ∞ and rows became
    // NaN; s − m is exact when s is near m (Sterbenz), as in torch's softmax. A block whose keys all
    // rows of the tile keep needs no mask: a dense block wholly left of the tile's first row, or a gathered block
    // within the partitioned list's head.
    const bool whole_block = Gathered ? (block + 1) * kTileKeys <= whole_keys
                                      : block * kTileKeys + kTileKeys - 1 <= p0;
    const int* const index = key_index + stage * kTileKeys;
    const float* const bias = key_beta + stage * kTileKeys;
    const int* const dies = key_death + stage * kTileKeys;
    float block_max[2] = {-INFINITY, -INFINITY};
    // scores: kScaled (β taken to log2 units here), kLog2Beta (β already in them), kRounded (transformers' steps).
    auto bias_and_mask = [&](auto masked, auto scores) {
      constexpr bool rounded = decltype(scores)::value == kRounded;
#pragma unroll
      for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          // Column n·8 + quad_col + c: key j is kept on position p ⇔ j ≤ p < death ⇔ (unsigned)(p − j) < death − j
          // (death ≥ j; a padded column has j = INT_MAX, death = INT_MAX: span 0, never kept).
          const int column = n * 8 + quad_col + c;
          // Per column, for both rows. Rounded scores take β itself (see below).
          const float beta_j = decltype(scores)::value == kScaled ? beta_in_log2_units(bias[column]) : bias[column];
          int j = 0;
          unsigned span = 0;
          if constexpr (decltype(masked)::value) {
            j = index[column];
            span = static_cast<unsigned>(dies[column] - j);
          }
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            const int e = 2 * r + c;
            // (q·k·scale + β)·log2 e; or transformers' eager steps in the input type: round(round(round(q·k)·scale)
            // + β), then to log2 units.
            const float value =
                rounded
                    ? fminf(round_to<T>(round_to<T>(round_to<T>(s[4 * n + e]) * p.scale) + beta_j) * kLog2e, FLT_MAX)
                    : fmaf(s[4 * n + e], scale_log2, beta_j);
            if constexpr (decltype(masked)::value)
              s[4 * n + e] = static_cast<unsigned>((r == 0 ? position_a : position_b) - j) < span ? value : -INFINITY;
            else
              s[4 * n + e] = value;
            block_max[r] = fmaxf(block_max[r], s[4 * n + e]);
          }
        }
    };
    using Scaled = std::integral_constant<int, kScaled>;
    using Log2Beta = std::integral_constant<int, kLog2Beta>;
    using Rounded = std::integral_constant<int, kRounded>;
    auto form_scores = [&](auto scores) {  // uniform over the CTA: one branch per block, each path keeps its code
      if (whole_block) bias_and_mask(std::false_type{}, scores);
      else bias_and_mask(std::true_type{}, scores);
    };
    // β in log2 units at d64 only (kChunkFedDim; the launcher refuses it elsewhere).
    if (D == kChunkFedDim && p.beta_log2) {
      if constexpr (D == kChunkFedDim) form_scores(Log2Beta{});
    } else if (p.round_scores) {
      form_scores(Rounded{});
    } else {
      form_scores(Scaled{});
    }
    // (Each row's max and sum as pairwise trees instead of chains: our dense d64 3 % slower, DMA d64 unchanged;
    // NVIDIA H200, bench/h200/README.md.)
    // The reference subtracted before exp2 moves only when a block's max exceeds it by more than kLazyRescale:
    // P stays ≤ 2^kLazyRescale, and O (D/2 products per thread) is rescaled a few
    // times per row instead of after every block; a warp skips it when none of its rows moved. The normalized result
    // is the same.
    float rescale[2];
    bool moved = false;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      block_max[r] = fmaxf(block_max[r], __shfl_xor_sync(0xFFFFFFFFu, block_max[r], 1));
      block_max[r] = fmaxf(block_max[r], __shfl_xor_sync(0xFFFFFFFFu, block_max[r], 2));
      const float old_reference = row_max[r];
      const float reference = block_max[r] > old_reference + kLazyRescale ? block_max[r] : old_reference;
      rescale[r] = reference == old_reference ? 1.0f : fast_exp2(old_reference - reference);  // −∞: 0
      moved |= reference != old_reference;
      row_max[r] = reference;
      block_max[r] = reference == -INFINITY ? 0.0f : -reference;  // the exp2 offset; nothing kept yet: 0
      row_sum[r] *= rescale[r];
    }
    if (__any_sync(0xFFFFFFFFu, moved)) {
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        o[4 * n + 0] *= rescale[0];
        o[4 * n + 1] *= rescale[0];
        o[4 * n + 2] *= rescale[1];
        o[4 * n + 3] *= rescale[1];
      }
    }
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      s[i] = fast_exp2(s[i] + block_max[(i >> 1) & 1]);
      row_sum[(i >> 1) & 1] += s[i];
    }

    // O += P V: keys 16·kk .. 16·kk + 15 are n-tiles 2kk and 2kk + 1 of S, which is the A fragment's layout.
    unsigned p_fragments[4][4];
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      p_fragments[kk][0] = Convert<T>::pack(s[8 * kk + 0], s[8 * kk + 1]);
      p_fragments[kk][1] = Convert<T>::pack(s[8 * kk + 2], s[8 * kk + 3]);
      p_fragments[kk][2] = Convert<T>::pack(s[8 * kk + 4], s[8 * kk + 5]);
      p_fragments[kk][3] = Convert<T>::pack(s[8 * kk + 6], s[8 * kk + 7]);
    }
    fence_registers(o);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      const std::uint64_t v_slice = v_tile.at(stage_bytes + mn_major_slice_bytes(kk));
      if constexpr (D == 64) wgmma_m64n64k16_rs<kF16>(o, p_fragments[kk], v_slice);
      else wgmma_m64n128k16_rs<kF16>(o, p_fragments[kk], v_slice);
    }
    wgmma_commit();
    // Refill block − kRefillLag's stage with block + 2, once every thread released it.
    if (block >= kRefillLag && block - kRefillLag + kStages < blocks) {
      mbarrier_wait(shared_address(&stage_empty[stage_before(kRefillLag)]), phase_before(kRefillLag));
      load_block(block - kRefillLag + kStages, stage_before(kRefillLag));
    }
    if (++stage == kStages) stage = 0, phase ^= 1;
  }
  wgmma_wait<0>();
  fence_registers(o);

  // Row sums over the quad, normalize, store: the tile goes through this warpgroup's Q tile (no wgmma reads it any
  // more), written in its swizzled layout (conflict-free), then out in 16-byte row chunks, instead of 4-byte stores of
  // column pairs (D/4 of them per thread, which the CTA waited to drain before it could retire).
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row_sum[r] += __shfl_xor_sync(0xFFFFFFFFu, row_sum[r], 1);
    row_sum[r] += __shfl_xor_sync(0xFFFFFFFFu, row_sum[r], 2);
    row_sum[r] = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
  }
  unsigned char* const staging = q_tiles + warpgroup * kTileBytes;
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {  // columns n·8 + quad_col, + 1: 16-byte chunk n of the row, bytes quad_col·2
    const int within = quad_col * 2;
    *reinterpret_cast<unsigned*>(staging + swizzled_offset(row_a, n) + within) =
        Convert<T>::pack(o[4 * n + 0] * row_sum[0], o[4 * n + 1] * row_sum[0]);
    *reinterpret_cast<unsigned*>(staging + swizzled_offset(row_a + 8, n) + within) =
        Convert<T>::pack(o[4 * n + 2] * row_sum[1], o[4 * n + 3] * row_sum[1]);
  }
  asm volatile("bar.sync %0, %1;\n" ::"r"(1 + warpgroup), "n"(kWarpgroupThreads) : "memory");  // this warpgroup only
  T* out = static_cast<T*>(p.out) + ((static_cast<long long>(b) * p.q_heads + h) * p.q_len + r0) * D;
  for (int c = threadIdx.x % kWarpgroupThreads; c < kTileRows * kChunks; c += kWarpgroupThreads) {
    const int row = c / kChunks, chunk = c % kChunks;
    if (r0 + row < p.q_len)
      *reinterpret_cast<uint4*>(out + row * D + chunk * 8) =
          *reinterpret_cast<const uint4*>(staging + swizzled_offset(row, chunk));
  }
  if (threadIdx.x % kWarpgroupThreads == 0) write_head_counters(p, b, h, qt, p_last - p0 + 1, key_count);
  if (p.cta_nanoseconds && threadIdx.x % kWarpgroupThreads == 0)  // one entry per (head, tile)
    p.cta_nanoseconds[(static_cast<long long>(b) * p.q_heads + h) * p.q_tiles + qt] =
        static_cast<long long>(global_nanoseconds() - started);
#else
  __trap();  // compiled for sm_90a only; launch_attention_forward_sm90a never launches it elsewhere
#endif
}

// The most dynamic shared memory a block may opt in to on the current device, asked once per device.
int max_dynamic_shared() {
  int device = 0;
  DMASCOPE_CUDA_CHECK(cudaGetDevice(&device));
  static std::atomic<int> known[64] = {};
  if (device < 0 || device >= 64) return 0;
  if (known[device].load() == 0) {
    int bytes = 0;
    DMASCOPE_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    known[device].store(bytes);
  }
  return known[device].load();
}

template <class T, int D, bool Gathered, int Heads>
void launch_typed(const ForwardParams& asked, cudaStream_t stream) {
  const auto kernel = attention_forward_sm90a<T, D, Gathered, Heads>;
  ForwardParams params = asked;
  // Instrumented runs: the kept-entry histogram past the kernel's shared memory, where it fits.
  int kShared = shared_bytes<D, Heads, Gathered>();
  if (params.counters.kept_entries && params.counters.shared_histogram) {
    const int with_histogram = kShared + params.counters.k_tiles * 4;
    if (with_histogram <= max_dynamic_shared()) kShared = with_histogram;
    else params.counters.shared_histogram = false;
  }
  DMASCOPE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
  const dim3 grid(params.q_tiles, params.q_heads / Heads, params.batch);
  if (!params.programmatic) {
    kernel<<<grid, Heads * kWarpgroupThreads, kShared, stream>>>(params);
    DMASCOPE_CUDA_CHECK_LAUNCH();
    return;
  }
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = dim3(Heads * kWarpgroupThreads);
  config.dynamicSmemBytes = kShared;
  config.stream = stream;
  cudaLaunchAttribute attribute = {};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &attribute;
  config.numAttrs = 1;
  DMASCOPE_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, params));
}

// Query heads per CTA: as many of a GQA group as share everything but Q (one bias per kv head), up to 4.
int heads_per_cta(const ForwardParams& p) {
  const int group = p.q_heads / p.kv_heads;
  if (p.heads_per_cta == 1 || p.bias_heads != p.kv_heads) return 1;
  if (group % 4 == 0 && p.heads_per_cta != 2) return 4;
  return group % 2 == 0 ? 2 : 1;
}

template <class T, int D, bool Gathered>
void launch_for_heads(const ForwardParams& params, cudaStream_t stream) {
  switch (heads_per_cta(params)) {
    case 4: return launch_typed<T, D, Gathered, 4>(params, stream);
    case 2: return launch_typed<T, D, Gathered, 2>(params, stream);
    default: return launch_typed<T, D, Gathered, 1>(params, stream);
  }
}

template <class T>
bool launch_for_type(const ForwardParams& params, bool gathered, cudaStream_t stream) {
  if (params.head_dim == 64)
    gathered ? launch_for_heads<T, 64, true>(params, stream) : launch_for_heads<T, 64, false>(params, stream);
  else if (params.head_dim == 128)
    gathered ? launch_for_heads<T, 128, true>(params, stream) : launch_for_heads<T, 128, false>(params, stream);
  else
    return false;
  return true;
}

// Whether the current device is a compute capability 9.0 GPU (the only one sm_90a code runs on), asked once per
// device.
bool device_is_sm90() {
  int device = 0;
  DMASCOPE_CUDA_CHECK(cudaGetDevice(&device));
  static std::atomic<int> known[64] = {};  // 0 unknown, 1 yes, 2 no
  if (device < 0 || device >= 64) return false;
  if (known[device].load() == 0) {
    int major = 0, minor = 0;
    DMASCOPE_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    DMASCOPE_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    known[device].store(major == 9 && minor == 0 ? 1 : 2);
  }
  return known[device].load() == 1;
}

}  // namespace

bool attention_forward_sm90a_applies(const ForwardParams& params) {
  return (params.head_dim == 64 || params.head_dim == 128) && device_is_sm90();
}

bool sm90a_counts_whole_rows(const ForwardParams& params, bool gathered) {
  if (!attention_forward_sm90a_applies(params)) return false;
  return shared_bytes(params.head_dim, heads_per_cta(params), gathered) + params.counters.k_tiles * 4 <=
         max_dynamic_shared();
}

bool launch_attention_forward_sm90a(const ForwardParams& params, bool gathered, cudaStream_t stream) {
  if (!attention_forward_sm90a_applies(params)) return false;
  return params.f16 ? launch_for_type<__half>(params, gathered, stream)
                    : launch_for_type<__nv_bfloat16>(params, gathered, stream);
}

}  // namespace dmascope::cuda::detail
