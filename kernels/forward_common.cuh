// Device helpers shared by the two forward kernels (attention_fwd.cu: mma.sync, sm_80+; attention_fwd_sm90a.cu:
// wgmma, Hopper): asynchronous copies into shared memory, the global timer, and fp32 → bf16/fp16 packing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <climits>

#include "kernels/attention_fwd.cuh"

namespace dmascope::cuda::detail {

constexpr float kLog2e = 1.4426950408889634f;

// β in the softmax's log2 units, capped at FLT_MAX: a trained layer's β reaches 1e8 and more, and β·log2 e must stay
// finite (∞ − ∞ would make the row NaN). The wgmma kernel applies it per key, or reads it as the chunked mask build
// left it (ForwardParams::beta_log2): both give the same bits.
__device__ __forceinline__ float beta_in_log2_units(float beta) { return fminf(beta * kLog2e, 3.402823466e+38f); }

__device__ inline unsigned shared_address(const void* pointer) {
  return static_cast<unsigned>(__cvta_generic_to_shared(pointer));
}

// 16-byte asynchronous copy; src_bytes = 0 writes zeros (rows past the end).
__device__ inline void copy_16_async(void* shared, const void* global, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(shared)), "l"(global),
               "r"(src_bytes));
}
// 4-byte asynchronous copy (β or death of one key).
__device__ inline void copy_4_async(void* shared, const void* global) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(shared_address(shared)), "l"(global));
}
__device__ inline void commit_copies() { asm volatile("cp.async.commit_group;\n" ::); }
template <int Pending> __device__ inline void wait_copies() { asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending)); }

__device__ inline unsigned long long global_nanoseconds() {
  unsigned long long now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  return now;
}

// 2^x by the MUFU.EX2 instruction alone (flush to zero: softmax terms below 2^-126 become 0, as with
// --use_fast_math): exp2f adds range handling for denormal results around it. 2^-inf = 0.
__device__ inline float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// Two fp32 values rounded to the input type and packed into one 32-bit register (low half first), and one value.
template <class T> struct Convert;
// x rounded to T (bf16 or fp16, nearest even) and back: a torch step computed in the input type.
template <class T>
__device__ inline float round_to(float x);
template <>
__device__ inline float round_to<__nv_bfloat16>(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }
template <>
__device__ inline float round_to<__half>(float x) { return __half2float(__float2half_rn(x)); }
template <> struct Convert<__nv_bfloat16> {
  static __device__ unsigned pack(float lo, float hi) {
    __nv_bfloat162 pair = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&pair);
  }
  static __device__ __nv_bfloat16 from_float(float x) { return __float2bfloat16_rn(x); }
};
template <> struct Convert<__half> {
  static __device__ unsigned pack(float lo, float hi) {
    __half2 pair = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&pair);
  }
  static __device__ __half from_float(float x) { return __float2half_rn(x); }
};

// What a forward CTA works on, the same in both kernels: query tile qt (heavy, late tiles first) of the Heads query
// heads first_head.. of batch b, which share one kv head and one bias head (Heads divides the GQA group), and the
// pointers to its Q rows, its kv head's K and V, its bias head's β, death and gather lists.
template <class T, int D>
struct ForwardCta {
  int qt, first_head, b, kv_head, bias_head;
  int r0, p0, p_last;  // first query row of the tile; key positions of its first and last row
  long long segment;   // b · bias_heads + bias_head: index of the β / death / list / chunk-key segment
  const T* q;          // row r0 of head first_head
  const T* k;
  const T* v;
  const float* beta;   // null: no bias
  const std::int32_t* death;  // null: dense
  const std::int32_t* list;   // the tile's gathered keys (Gathered only)
};
template <class T, int D>
__device__ inline ForwardCta<T, D> forward_cta(const ForwardParams& p, int heads, bool gathered) {
  ForwardCta<T, D> c;
  c.qt = p.q_tiles - 1 - static_cast<int>(blockIdx.x);
  c.first_head = static_cast<int>(blockIdx.y) * heads;
  c.b = static_cast<int>(blockIdx.z);
  c.kv_head = c.first_head / (p.q_heads / p.kv_heads);
  c.bias_head = p.bias_heads == p.q_heads ? c.first_head : c.first_head / (p.q_heads / p.bias_heads);
  const int offset = p.key_len - p.q_len;
  c.r0 = c.qt * kTileRows;
  c.p0 = offset + c.r0;
  c.p_last = offset + min(p.q_len, c.r0 + kTileRows) - 1;
  c.segment = static_cast<long long>(c.b) * p.bias_heads + c.bias_head;
  const long long kv_rows = (static_cast<long long>(c.b) * p.kv_heads + c.kv_head) * p.key_len;
  c.q = static_cast<const T*>(p.q) + ((static_cast<long long>(c.b) * p.q_heads + c.first_head) * p.q_len + c.r0) * D;
  c.k = static_cast<const T*>(p.k) + kv_rows * D;
  c.v = static_cast<const T*>(p.v) + kv_rows * D;
  c.beta = p.beta ? p.beta + c.segment * p.key_len : nullptr;
  c.death = p.death ? p.death + c.segment * p.key_len : nullptr;
  c.list = gathered ? p.lists + (c.segment * p.q_tiles + c.qt) * p.capacity : nullptr;
  return c;
}

// Instrumented runs (ForwardParams::counters): adds the kept entries of up to 32 of the tile's gathered keys to the
// tile's counters. Called by whole warps, one key per lane: key j (INT_MAX: none) with death `dies` is kept on the
// tile's positions [max(j, p0), min(dies, p_last + 1)). Lanes whose keys share a key tile add their sum with one
// atomic: the group from one match, its sum from one reduction, however many key tiles the 32 keys span (a loop over
// the distinct tiles cost up to one round of shuffles per tile, and random β spreads a warp's keys over many).
__device__ inline void count_kept_entries(std::int32_t* kept_in_tile_row, int p0, int p_last, int j, int dies) {
  const int rows = j == INT_MAX ? 0 : max(0, min(dies, p_last + 1) - max(j, p0));
  const int key_tile = rows > 0 ? j / kTileKeys : -1;
  const unsigned peers = __match_any_sync(0xFFFFFFFFu, key_tile);
  const unsigned sum = __reduce_add_sync(peers, static_cast<unsigned>(rows));
  if (key_tile >= 0 && static_cast<int>(threadIdx.x % 32) == __ffs(peers) - 1)
    atomicAdd(kept_in_tile_row + key_tile, static_cast<int>(sum));
}

// The tile's kept-entry counters [k_tiles] when this CTA counts them (instrumented, and the CTA holds the first query
// head of its bias head, so each bias head's tile is counted once), else null.
__device__ inline std::int32_t* kept_entry_counters(const ForwardParams& p, long long segment, int qt, int first_head) {
  if (!p.counters.kept_entries || first_head % (p.q_heads / p.bias_heads) != 0) return nullptr;
  return p.counters.kept_entries + (segment * p.q_tiles + qt) * p.counters.k_tiles;
}

// Instrumented runs: head h's keys gathered and (real row, real key) pairs computed for query tile qt.
__device__ inline void write_head_counters(const ForwardParams& p, int b, int h, int qt, int rows, int key_count) {
  if (!p.counters.keys_gathered) return;
  const long long slot = (static_cast<long long>(b) * p.q_heads + h) * p.q_tiles + qt;
  p.counters.keys_gathered[slot] = key_count;
  p.counters.executed_pairs[slot] = static_cast<long long>(rows) * key_count;
}

}  // namespace dmascope::cuda::detail
