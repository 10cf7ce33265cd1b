// Forward attention with mma.sync (sm_80+), FlashAttention-2 style, over either
//   - gathered keys (DMA): for query tile m, the keys lists[m][0..count) that some row of the tile keeps, at most
//     w + 64 of them; per element the DMA rule keep(p, j) ⇔ j ≤ p < death[j] still applies, or
//   - the causal prefix (dense): keys 0..p_last, rule j ≤ p.
// Scores are q·k·scale + β[j] (β optional), softmax in fp32 (exp2 with log2 e), P rounded to the input precision for
// P·V, fp32 accumulation.
//
// Grid (q_tiles, Hq / Heads, B), the heaviest query tiles first; 128·Heads threads: 4 warps per query head, each
// owning 16 query rows. With Heads = 2 the two query heads of a GQA group that share a kv head (and so a bias head and
// a gather list) share every K/V tile too: half the loads per FLOP.
// Shared memory: Q [Heads·64][d+8] once, then K and V [2 stages][64][d+8] plus each key's index, β·log2 e and death,
// filled by cp.async one block ahead of the block being computed. Rows are padded by 8 elements (16 bytes) so that the
// 32-bit fragment loads of Q and K and the ldmatrix.trans loads of V hit 32 distinct banks.
// Without AsyncKeys (DMASCOPE_FORWARD_KEYS=sync) every key block starts with two dependent global loads that all warps
// of the CTA wait for: the list entry (the address of the K/V copies), then β and death. AsyncKeys (the default) fetches
// the gathered key indices of block b + 2 into registers while block b is computed, so the addresses of b + 1's copies
// are at hand, and copies each key's β and death to shared memory by 4-byte cp.async along with its K/V rows.
// On Hopper (compute capability 9.0) launch_attention_forward runs the wgmma kernel of attention_fwd_sm90a.cu instead,
// unless ForwardParams::wgmma is false (DMASCOPE_FORWARD_KERNEL=mma).
#include <cfloat>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <climits>
#include <type_traits>

#include "kernels/attention_fwd.cuh"
#include "kernels/cuda_check.h"
#include "kernels/forward_common.cuh"

namespace dmascope::cuda::detail {

namespace {

constexpr int kWarpsPerHead = 4;

template <class T> struct Mma;
template <> struct Mma<__nv_bfloat16> {
  static __device__ void run(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
};
template <> struct Mma<__half> {
  static __device__ void run(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
};

__device__ inline void load_matrix_x2_transposed(unsigned (&b)[2], const void* shared) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(b[0]), "=r"(b[1])
               : "r"(shared_address(shared)));
}

template <class T, int D, int Heads>
struct SharedTiles {
  static constexpr int kStride = D + 8;  // elements per padded row
  T q[Heads * kTileRows * kStride];
  T k[2][kTileKeys * kStride];
  T v[2][kTileKeys * kStride];
  int key_index[2][kTileKeys];
  float key_beta[2][kTileKeys];  // β·log2 e (sync path) or β (AsyncKeys: scaled where read; round_scores: always)
  int key_death[2][kTileKeys];
};

template <class T, int D, bool Gathered, int Heads, bool AsyncKeys>
__global__ void __launch_bounds__(Heads * kWarpsPerHead * 32, D == 64 ? 2 : 1) attention_forward_kernel(ForwardParams p) {
  constexpr int kThreads = Heads * kWarpsPerHead * 32;
  using Tiles = SharedTiles<T, D, Heads>;
  constexpr int kStride = Tiles::kStride;
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  Tiles& s = *reinterpret_cast<Tiles*>(shared_bytes);

  const unsigned long long started = p.cta_nanoseconds ? global_nanoseconds() : 0;
  const auto [qt, first_head, b, kv_head, bias_head, r0, p0, p_last, segment, q, k, v, beta, death, list] =
      forward_cta<T, D>(p, Heads, Gathered);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int head_slot = warp / kWarpsPerHead;
  const int h = first_head + head_slot;
  const int key_count = Gathered ? p.counts[segment * p.q_tiles + qt] : p_last + 1;
  const int blocks = (key_count + kTileKeys - 1) / kTileKeys;
  // Instrumented runs: the kept entries of the tile's gathered keys, one key per thread, before the key blocks.
  if (std::int32_t* const kept_counters = kept_entry_counters(p, segment, qt, first_head))
    for (int base = 0; base < key_count; base += kThreads) {
      const int t = base + static_cast<int>(threadIdx.x);
      const int j = t < key_count ? (Gathered ? __ldg(list + t) : t) : INT_MAX;
      count_kept_entries(kept_counters, p0, p_last, j, j != INT_MAX && death ? __ldg(death + j) : INT_MAX);
    }

  // Q tiles of the CTA's heads → shared (rows past q_len are zeros).
  for (int c = threadIdx.x; c < Heads * kTileRows * kChunks; c += kThreads) {
    const int slot = c / (kTileRows * kChunks), row = (c / kChunks) % kTileRows, chunk = c % kChunks;
    const bool valid = r0 + row < p.q_len;
    const T* source = q + static_cast<long long>(slot) * p.q_len * D + row * D + chunk * 8;
    copy_16_async(&s.q[(slot * kTileRows + row) * kStride + chunk * 8], valid ? source : q, valid ? 16 : 0);
  }
  auto load_keys = [&](int block, int stage) {
    for (int c = threadIdx.x; c < kTileKeys * kChunks; c += kThreads) {
      const int row = c / kChunks, chunk = c % kChunks;
      const int t = block * kTileKeys + row;
      const bool valid = t < key_count;
      const int j = valid ? (Gathered ? __ldg(list + t) : t) : 0;
      copy_16_async(&s.k[stage][row * kStride + chunk * 8], k + static_cast<long long>(j) * D + chunk * 8, valid ? 16 : 0);
      copy_16_async(&s.v[stage][row * kStride + chunk * 8], v + static_cast<long long>(j) * D + chunk * 8, valid ? 16 : 0);
      if (chunk == 0) {
        s.key_index[stage][row] = valid ? j : INT_MAX;  // INT_MAX > every position: masked
        // β·log2 e (β ≤ 3.4e38 stays finite), or β itself for rounded scores.
        const float b = valid && beta ? __ldg(beta + j) : 0.0f;
        s.key_beta[stage][row] = p.round_scores ? b : fminf(b * kLog2e, FLT_MAX);
        s.key_death[stage][row] = valid && death ? __ldg(death + j) : INT_MAX;
      }
    }
  };
  // AsyncKeys: thread t copies chunk t % kChunks of rows t / kChunks + i · kRowStep (i < kLoads) of every block.
  constexpr int kLoads = kTileKeys * kChunks / kThreads, kRowStep = kThreads / kChunks;
  static_assert(kLoads * kThreads == kTileKeys * kChunks, "the copies of a block divide evenly among the threads");
  const int load_chunk = threadIdx.x % kChunks, load_row = threadIdx.x / kChunks;
  int next_keys[kLoads];  // key indices of the next block to load, fetched one block ahead; -1: past key_count
  auto fetch_indices = [&](int block) {
#pragma unroll
    for (int i = 0; i < kLoads; ++i) {
      const int t = block * kTileKeys + load_row + i * kRowStep;
      next_keys[i] = t < key_count ? (Gathered ? __ldg(list + t) : t) : -1;
    }
  };
  auto load_keys_async = [&](int stage) {
#pragma unroll
    for (int i = 0; i < kLoads; ++i) {
      const int row = load_row + i * kRowStep, j = next_keys[i];
      const bool valid = j >= 0;
      const long long element = static_cast<long long>(valid ? j : 0) * D + load_chunk * 8;
      copy_16_async(&s.k[stage][row * kStride + load_chunk * 8], k + element, valid ? 16 : 0);
      copy_16_async(&s.v[stage][row * kStride + load_chunk * 8], v + element, valid ? 16 : 0);
      if (load_chunk == 0) {
        s.key_index[stage][row] = valid ? j : INT_MAX;  // INT_MAX > every position: masked
        if (valid && beta) copy_4_async(&s.key_beta[stage][row], beta + j);
        else s.key_beta[stage][row] = 0.0f;
        if (valid && death) copy_4_async(&s.key_death[stage][row], death + j);
        else s.key_death[stage][row] = INT_MAX;
      }
    }
  };
  if constexpr (AsyncKeys) {
    if (blocks > 0) {
      fetch_indices(0);
      load_keys_async(0);
      if (blocks > 1) fetch_indices(1);
    }
  } else {
    if (blocks > 0) load_keys(0, 0);
  }
  commit_copies();

  const int quad_row = lane / 4, quad_col = (lane % 4) * 2;
  const int row_a = (warp % kWarpsPerHead) * 16 + quad_row;  // this thread's two rows of its head: row_a, row_a + 8
  const int q_row_a = head_slot * kTileRows + row_a;         // the same row in the shared Q tiles
  const float scale_log2 = p.scale * kLog2e;
  const int position_a = p0 + row_a, position_b = position_a + 8;

  unsigned q_fragments[D / 16][4];
  float o[D / 8][4];
  for (int n = 0; n < D / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
  bool q_loaded = false;

  for (int block = 0; block < blocks; ++block) {
    const int stage = block & 1;
    if (block + 1 < blocks) {
      if constexpr (AsyncKeys) {
        load_keys_async(stage ^ 1);                       // block + 1, from the indices fetched last iteration
        if (block + 2 < blocks) fetch_indices(block + 2);  // waited for only when block + 2's copies are issued
      } else {
        load_keys(block + 1, stage ^ 1);
      }
      commit_copies();
      wait_copies<1>();
    } else {
      wait_copies<0>();
    }
    __syncthreads();
    if (!q_loaded) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const T* base = &s.q[q_row_a * kStride + kk * 16 + quad_col];
        q_fragments[kk][0] = *reinterpret_cast<const unsigned*>(base);
        q_fragments[kk][1] = *reinterpret_cast<const unsigned*>(base + 8 * kStride);
        q_fragments[kk][2] = *reinterpret_cast<const unsigned*>(base + 8);
        q_fragments[kk][3] = *reinterpret_cast<const unsigned*>(base + 8 * kStride + 8);
      }
      q_loaded = true;
    }

    // S = Q Kᵀ for this warp's 16 rows × 64 keys.
    float scores[kTileKeys / 8][4];
#pragma unroll
    for (int n = 0; n < kTileKeys / 8; ++n) {
      scores[n][0] = scores[n][1] = scores[n][2] = scores[n][3] = 0.0f;
      const T* key_row = &s.k[stage][(n * 8 + quad_row) * kStride + quad_col];
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        unsigned b_fragment[2];
        b_fragment[0] = *reinterpret_cast<const unsigned*>(key_row + kk * 16);
        b_fragment[1] = *reinterpret_cast<const unsigned*>(key_row + kk * 16 + 8);
        Mma<T>::run(scores[n], q_fragments[kk], b_fragment);
      }
    }

    // Mask, bias and the online softmax (in log2 units). Rounded scores take their own copy of the loop (dispatched
    // once per block, uniform over the CTA), so the plain path keeps its registers.
    float block_max[2] = {-INFINITY, -INFINITY};
    auto bias_and_mask = [&](auto rounded) {
#pragma unroll
      for (int n = 0; n < kTileKeys / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int column = n * 8 + quad_col + (e & 1);
          const int position = e < 2 ? position_a : position_b;
          const int j = s.key_index[stage][column];
          const bool kept = j <= position && position < s.key_death[stage][column];
          const float stored = s.key_beta[stage][column];
          // (q·k·scale + β)·log2 e; or transformers' eager steps in the input type (KernelChoice scores=input):
          // round(round(round(q·k)·scale) + β), then to log2 units.
          float value;
          if constexpr (decltype(rounded)::value)
            value = fminf(round_to<T>(round_to<T>(round_to<T>(scores[n][e]) * p.scale) + stored) * kLog2e, FLT_MAX);
          else
            value = fmaf(scores[n][e], scale_log2, AsyncKeys ? fminf(stored * kLog2e, FLT_MAX) : stored);
          scores[n][e] = kept ? value : -INFINITY;
          block_max[e >> 1] = fmaxf(block_max[e >> 1], scores[n][e]);
        }
    };
    if (p.round_scores) bias_and_mask(std::true_type{});
    else bias_and_mask(std::false_type{});
    float rescale[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      block_max[r] = fmaxf(block_max[r], __shfl_xor_sync(0xFFFFFFFFu, block_max[r], 1));
      block_max[r] = fmaxf(block_max[r], __shfl_xor_sync(0xFFFFFFFFu, block_max[r], 2));
      const float new_max = fmaxf(row_max[r], block_max[r]);
      const float reference = new_max == -INFINITY ? 0.0f : new_max;  // a row with nothing kept yet stays empty
      rescale[r] = exp2f(row_max[r] - reference);
      row_max[r] = new_max;
      block_max[r] = reference;
      row_sum[r] *= rescale[r];
    }
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      o[n][0] *= rescale[0];
      o[n][1] *= rescale[0];
      o[n][2] *= rescale[1];
      o[n][3] *= rescale[1];
    }
#pragma unroll
    for (int n = 0; n < kTileKeys / 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        scores[n][e] = exp2f(scores[n][e] - block_max[e >> 1]);
        row_sum[e >> 1] += scores[n][e];
      }

    // O += P V: P from the score registers (two 8-key tiles form one 16-key A fragment), V through ldmatrix.trans.
#pragma unroll
    for (int kk = 0; kk < kTileKeys / 16; ++kk) {
      unsigned p_fragment[4];
      p_fragment[0] = Convert<T>::pack(scores[2 * kk][0], scores[2 * kk][1]);
      p_fragment[1] = Convert<T>::pack(scores[2 * kk][2], scores[2 * kk][3]);
      p_fragment[2] = Convert<T>::pack(scores[2 * kk + 1][0], scores[2 * kk + 1][1]);
      p_fragment[3] = Convert<T>::pack(scores[2 * kk + 1][2], scores[2 * kk + 1][3]);
      const T* value_rows = &s.v[stage][(kk * 16 + (lane % 16)) * kStride];
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        unsigned b_fragment[2];
        load_matrix_x2_transposed(b_fragment, value_rows + n * 8);
        Mma<T>::run(o[n], p_fragment, b_fragment);
      }
    }
    __syncthreads();  // the other stage is refilled next iteration
  }

  // Row sums over the quad, normalize, store.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row_sum[r] += __shfl_xor_sync(0xFFFFFFFFu, row_sum[r], 1);
    row_sum[r] += __shfl_xor_sync(0xFFFFFFFFu, row_sum[r], 2);
    row_sum[r] = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
  }
  T* out = static_cast<T*>(p.out) + ((static_cast<long long>(b) * p.q_heads + h) * p.q_len + r0) * D;
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {
    const int column = n * 8 + quad_col;
    if (r0 + row_a < p.q_len) {
      out[row_a * D + column] = Convert<T>::from_float(o[n][0] * row_sum[0]);
      out[row_a * D + column + 1] = Convert<T>::from_float(o[n][1] * row_sum[0]);
    }
    if (r0 + row_a + 8 < p.q_len) {
      out[(row_a + 8) * D + column] = Convert<T>::from_float(o[n][2] * row_sum[1]);
      out[(row_a + 8) * D + column + 1] = Convert<T>::from_float(o[n][3] * row_sum[1]);
    }
  }
  if (threadIdx.x % (kWarpsPerHead * 32) == 0) write_head_counters(p, b, h, qt, p_last - p0 + 1, key_count);
  if (p.cta_nanoseconds && threadIdx.x % (kWarpsPerHead * 32) == 0)  // one entry per (head, tile), shared CTAs too
    p.cta_nanoseconds[(static_cast<long long>(b) * p.q_heads + h) * p.q_tiles + qt] =
        static_cast<long long>(global_nanoseconds() - started);
}

template <class T, int D, bool Gathered, int Heads>
void launch_typed(const ForwardParams& params, cudaStream_t stream) {
  const auto kernel = params.async_key_loads ? attention_forward_kernel<T, D, Gathered, Heads, true>
                                             : attention_forward_kernel<T, D, Gathered, Heads, false>;
  const int shared = static_cast<int>(sizeof(SharedTiles<T, D, Heads>));
  DMASCOPE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, shared));
  const dim3 grid(params.q_tiles, params.q_heads / Heads, params.batch);
  kernel<<<grid, Heads * kWarpsPerHead * 32, shared, stream>>>(params);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

// Two query heads per CTA when they share everything but Q: an even GQA group and one bias per kv head.
bool pair_heads(const ForwardParams& p) {
  const int group = p.q_heads / p.kv_heads;
  return p.heads_per_cta != 1 && group % 2 == 0 && p.bias_heads == p.kv_heads;
}

template <class T, int D>
void launch_for_dim(const ForwardParams& params, bool gathered, cudaStream_t stream) {
  if (pair_heads(params))
    gathered ? launch_typed<T, D, true, 2>(params, stream) : launch_typed<T, D, false, 2>(params, stream);
  else
    gathered ? launch_typed<T, D, true, 1>(params, stream) : launch_typed<T, D, false, 1>(params, stream);
}

template <class T>
void launch_for_type(const ForwardParams& params, bool gathered, cudaStream_t stream) {
  if (params.head_dim == 64)
    launch_for_dim<T, 64>(params, gathered, stream);
  else if (params.head_dim == 128)
    launch_for_dim<T, 128>(params, gathered, stream);
  else
    throw_kernel_error("attention forward: head_dim " + std::to_string(params.head_dim) + " is not supported (64 or 128)");
}

}  // namespace

// Whether launch_attention_forward runs the wgmma kernel for these parameters (else the mma.sync one).
static bool runs_wgmma(const ForwardParams& params) { return params.wgmma && attention_forward_sm90a_applies(params); }

const char* attention_forward_kernel_name(const ForwardParams& params) {
  return runs_wgmma(params) ? "wgmma" : "mma.sync";
}

bool attention_forward_uses_chunk_keys(const ForwardParams& params) { return runs_wgmma(params); }

void launch_attention_forward(const ForwardParams& params, bool gathered, cudaStream_t stream) {
  if (params.q_tiles == 0) return;
  if (params.beta_log2 && params.round_scores)
    throw_kernel_error("rounded scores take β itself: β in log2 units cannot be combined with them");
  if (params.beta_log2 && params.head_dim != kChunkFedDim)
    throw_kernel_error("β in log2 units is read at head dim 64 only");
  if (params.wgmma && launch_attention_forward_sm90a(params, gathered, stream)) return;
  if (params.chunk_keys != nullptr)  // this kernel reads lists
    throw_kernel_error("the mma.sync forward kernel cannot read chunk keys: build gather lists for it");
  if (params.beta_log2) throw_kernel_error("the mma.sync forward kernel takes β itself, not in log2 units");
  if (params.f16)
    launch_for_type<__half>(params, gathered, stream);
  else
    launch_for_type<__nv_bfloat16>(params, gathered, stream);
}

}  // namespace dmascope::cuda::detail
