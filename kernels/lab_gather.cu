// Grid: one CTA per query tile of kLabGatherTileRows rows; block 512 threads, eight per row; dynamic shared memory
// two stages of 2·32·d + 32 floats (64.2 KB at d = 128). The CTA walks its tile's key list 32 keys at a time: it
// gathers those keys' k, v and β into shared memory (cp.async, the next step's while this one is computed), and each
// row folds its kept ones into an online softmax, 16 keys at a time. Each of a
// row's eight threads holds the row's q and output in registers for the float4 columns lane, lane + 8, … (at most 4 of
// them), reads a key as float4s (the eight lanes read 128 consecutive bytes, the warp's other rows the same ones) and
// adds its partial dot to the others' by three shuffles, so that all eight hold the whole score. A key is computed
// only when one of the warp's four rows keeps it (a warp-uniform branch): a tile whose union of keys is much larger
// than any row's kept set (oracle, nsa) costs about what its rows keep, not the union. 128 registers a thread, one
// CTA (16 warps) per multiprocessor: two CTAs of 64 registers spilled q and the output to local memory.
#include "kernels/lab_gather.cuh"

#include <math_constants.h>

#include "kernels/cuda_check.h"

namespace dmascope::cuda {

namespace {

constexpr int kThreads = 512;
constexpr int kKeyStep = 32;  // one bit word of a row per step
constexpr int kSubStep = 16;
constexpr std::uint32_t kSubMask = (1u << kSubStep) - 1u;
constexpr int kThreadsPerRow = kThreads / kLabGatherTileRows;               // 8
constexpr int kMaxChunks = kLabGatherMaxHeadDim / 4 / kThreadsPerRow;      // float4 columns per thread: 4

// Two stages of k, v and β: the next step's keys are copied (cp.async) while this step's are computed.
constexpr int kStages = 2;
__host__ __device__ constexpr std::size_t stage_floats(int d) {
  return 2 * static_cast<std::size_t>(kKeyStep) * d + kKeyStep;
}
std::size_t shared_bytes(int d) { return sizeof(float) * kStages * stage_floats(d); }

// Asynchronous global → shared copies; a copy with valid = false writes zeros and reads nothing.
__device__ __forceinline__ void copy_async16(void* shared, const void* global, bool valid) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(global), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void copy_async4(void* shared, const void* global, bool valid) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(address), "l"(global), "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int Pending>
__device__ __forceinline__ void copy_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending));
}

__device__ __forceinline__ float dot4(float4 a, float4 b, float sum) {
  return fmaf(a.w, b.w, fmaf(a.z, b.z, fmaf(a.y, b.y, fmaf(a.x, b.x, sum))));
}
__device__ __forceinline__ void axpy4(float a, float4 x, float4& y) {
  y.x = fmaf(a, x.x, y.x), y.y = fmaf(a, x.y, y.y), y.z = fmaf(a, x.z, y.z), y.w = fmaf(a, x.w, y.w);
}

__global__ void __launch_bounds__(kThreads, 1) gather_attention_kernel(GatherAttentionParams p) {
  extern __shared__ float4 shared4[];
  const int d = p.head_dim, chunks = d / 4;
  const int stage_float4s = static_cast<int>(stage_floats(d) / 4);  // 2·32·d/4 + 8: stays 16-byte aligned
  // Stage n: k [32][d/4] float4s, v [32][d/4], then β [32] floats.
  const auto k_of = [&](int stage) { return shared4 + stage * stage_float4s; };
  const auto v_of = [&](int stage) { return shared4 + stage * stage_float4s + kKeyStep * chunks; };
  const auto beta_of = [&](int stage) {
    return reinterpret_cast<float*>(shared4 + stage * stage_float4s + 2 * kKeyStep * chunks);
  };
  const int tile = blockIdx.x, tid = threadIdx.x;
  const int local_row = tid / kThreadsPerRow, lane = tid % kThreadsPerRow;
  const int tile_row0 = tile * kLabGatherTileRows;
  const int rows_here = min(kLabGatherTileRows, p.rows - tile_row0);
  const bool live = local_row < rows_here;
  const std::int64_t row = static_cast<std::int64_t>(p.row_begin) + tile_row0 + local_row;  // absolute
  // Fully unrolled loops with a guard keep q and the output in registers (a loop bounded by d would index them
  // dynamically and move them to local memory).
  float4 q[kMaxChunks], out[kMaxChunks];
  const float4* q_row = reinterpret_cast<const float4*>(p.query + (live ? row : p.row_begin) * d);
#pragma unroll
  for (int t = 0; t < kMaxChunks; ++t) {
    const int c = lane + kThreadsPerRow * t;
    q[t] = live && c < chunks ? q_row[c] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    out[t] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }
  const std::int32_t* keys = p.tile_keys + tile * p.tile_keys_stride;
  const int key_count = p.tile_key_count[tile];
  const std::uint32_t* bits = p.row_bits + (static_cast<std::int64_t>(tile_row0) + (live ? local_row : 0)) * p.row_bits_stride;
  const float4* key4 = reinterpret_cast<const float4*>(p.key);
  const float4* value4 = reinterpret_cast<const float4*>(p.value);
  // Issues the copies of keys base … base + 31 into `stage` (zeros past the list's end).
  const auto load_step = [&](int base, int stage) {
    const int here = min(kKeyStep, key_count - base);
    float4* k_step = k_of(stage);
    float4* v_step = v_of(stage);
    for (int e = tid; e < kKeyStep * chunks; e += kThreads) {
      const int s = e / chunks, c = e % chunks;
      const std::int64_t j = s < here ? keys[base + s] : 0;
      copy_async16(k_step + e, key4 + j * chunks + c, s < here);
      copy_async16(v_step + e, value4 + j * chunks + c, s < here);
    }
    if (tid < kKeyStep) copy_async4(beta_of(stage) + tid, p.beta + (tid < here ? keys[base + tid] : 0), tid < here);
    copy_async_commit();
  };
  float row_max = -CUDART_INF_F, row_sum = 0.0f;
  if (key_count > 0) load_step(0, 0);
  for (int base = 0, stage = 0; base < key_count; base += kKeyStep, stage ^= 1) {
    const int here = min(kKeyStep, key_count - base);
    if (base + kKeyStep < key_count) {
      load_step(base + kKeyStep, stage ^ 1);  // its stage was consumed before the previous step's closing barrier
      copy_async_wait<1>();                   // this step's copies have landed (the next step's may still be going)
    } else {
      copy_async_wait<0>();
    }
    __syncthreads();  // every thread's copies of this step are visible
    const float4* k_step = k_of(stage);
    const float4* v_step = v_of(stage);
    const float* beta_step = beta_of(stage);
    std::uint32_t word = live ? bits[base / 32] : 0u;
    if (here < kKeyStep) word &= (1u << here) - 1u;
    const std::uint32_t any = __reduce_or_sync(0xffffffffu, word);  // keys one of the warp's rows keeps
    // Two halves of 16 keys, each folded into the online softmax: 16 scores fit in registers beside q and the output.
#pragma unroll
    for (int sub = 0; sub < kKeyStep; sub += kSubStep) {
      const std::uint32_t any_sub = (any >> sub) & kSubMask, word_sub = (word >> sub) & kSubMask;
      if (any_sub == 0u) continue;
      float score[kSubStep];
      float step_max = -CUDART_INF_F;
#pragma unroll
      for (int s = 0; s < kSubStep; ++s) {
        score[s] = -CUDART_INF_F;
        if ((any_sub >> s) & 1u) {
          const float4* k_row = k_step + (sub + s) * chunks;
          float dot = 0.0f;
#pragma unroll
          for (int t = 0; t < kMaxChunks; ++t) {
            const int c = lane + kThreadsPerRow * t;
            if (c < chunks) dot = dot4(q[t], k_row[c], dot);
          }
#pragma unroll
          for (int offset = 1; offset < kThreadsPerRow; offset *= 2) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
          if ((word_sub >> s) & 1u) score[s] = dot * p.scale + beta_step[sub + s];
          step_max = fmaxf(step_max, score[s]);
        }
      }
      // The row's four threads hold the same scores (the butterfly sums in the same order up to commutation), so
      // max, weights and sum agree among them without further shuffles.
      const float new_max = fmaxf(row_max, step_max);
      // A row that has kept nothing so far keeps max −∞ and weights 0 (never exp(−∞ − −∞)).
      const float rescale = new_max == -CUDART_INF_F ? 1.0f : __expf(row_max - new_max);
#pragma unroll
      for (int t = 0; t < kMaxChunks; ++t) {
        out[t].x *= rescale, out[t].y *= rescale, out[t].z *= rescale, out[t].w *= rescale;
      }
      float step_sum = 0.0f;
#pragma unroll
      for (int s = 0; s < kSubStep; ++s) {
        if ((any_sub >> s) & 1u) {
          const float weight = score[s] == -CUDART_INF_F ? 0.0f : expf(score[s] - new_max);
          step_sum += weight;
          const float4* v_row = v_step + (sub + s) * chunks;
#pragma unroll
          for (int t = 0; t < kMaxChunks; ++t) {
            const int c = lane + kThreadsPerRow * t;
            if (c < chunks) axpy4(weight, v_row[c], out[t]);
          }
        }
      }
      row_sum = row_sum * rescale + step_sum;
      row_max = new_max;
    }
    __syncthreads();  // this stage is consumed: the next step's prefetch may overwrite it
  }
  if (!live) return;
  // row_sum is NaN when a score was: NaN · anything stays NaN, so the metrics see it.
  const float inverse = row_sum > 0.0f ? 1.0f / row_sum : 0.0f;
  float4* out_row = reinterpret_cast<float4*>(p.out + (row - p.row_begin) * d);
#pragma unroll
  for (int t = 0; t < kMaxChunks; ++t) {
    const int c = lane + kThreadsPerRow * t;
    if (c >= chunks) continue;
    float4 value = out[t];
    if (row_sum != row_sum) value = make_float4(row_sum, row_sum, row_sum, row_sum);
    else value.x *= inverse, value.y *= inverse, value.z *= inverse, value.w *= inverse;
    out_row[c] = value;
  }
}

bool aligned16(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0; }

}  // namespace

const char* gather_attention_unsupported(const GatherAttentionParams& params) {
  if (params.head_dim < 4 || params.head_dim > kLabGatherMaxHeadDim || params.head_dim % 4 != 0)
    return "the gather kernel needs a head dimension that is a multiple of 4 between 4 and 128";
  if (params.rows < 0 || params.row_begin < 0) return "the gather kernel got a negative row range";
  if (!aligned16(params.query) || !aligned16(params.key) || !aligned16(params.value) || !aligned16(params.out))
    return "the gather kernel reads and writes float4s: q, k, v and out must be 16-byte aligned";
  return "";
}

void launch_gather_attention(const GatherAttentionParams& params, cudaStream_t stream) {
  if (const char* why = gather_attention_unsupported(params); why[0] != '\0') detail::throw_kernel_error(why);
  if (params.rows == 0) return;
  const std::size_t bytes = shared_bytes(params.head_dim);
  DMASCOPE_CUDA_CHECK(cudaFuncSetAttribute(gather_attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(bytes)));
  const int tiles = (params.rows + kLabGatherTileRows - 1) / kLabGatherTileRows;
  gather_attention_kernel<<<tiles, kThreads, bytes, stream>>>(params);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda
