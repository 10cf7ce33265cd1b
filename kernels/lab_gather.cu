// Grid: one CTA per query tile of kLabGatherTileRows rows; block 256 threads; dynamic shared memory
// (64·(d + 1) + 32·(d + 1) + 32·d + 64·33) floats ≈ 74 KB at d = 128. The CTA walks its tile's key list 32 keys at a time:
// it gathers those keys' k, v into shared memory, computes the 64×32 scores (masked by each row's slot bits) and
// folds them into an online softmax. Thread t owns row t/4: scores of keys t%4 + 4m (m < 8) and output columns
// t%4 + 4c (c < d/4); the row's four threads share max and sum through warp shuffles.
#include "kernels/lab_gather.cuh"

#include <math_constants.h>

#include "kernels/cuda_check.h"

namespace dmascope::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kKeyStep = 32;
constexpr int kThreadsPerRow = kThreads / kLabGatherTileRows;  // 4
constexpr int kKeysPerThread = kKeyStep / kThreadsPerRow;   // 8

std::size_t shared_bytes(int d) {
  return sizeof(float) * (static_cast<std::size_t>(kLabGatherTileRows) * (d + 1) + kKeyStep * (d + 1) + kKeyStep * d +
                          kLabGatherTileRows * (kKeyStep + 1));
}

__device__ float row_reduce_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ float row_reduce_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

__global__ void __launch_bounds__(kThreads) gather_attention_kernel(GatherAttentionParams p) {
  extern __shared__ float shared[];
  const int d = p.head_dim;
  // Rows padded to d + 1 floats: a warp's 8 rows read q[c] from 8 distinct banks (unpadded, d a multiple of 32, they
  // all hit one bank: an 8-way conflict on every multiply-add of the scores).
  float* q_tile = shared;                                // [64][d + 1]
  float* k_step = q_tile + kLabGatherTileRows * (d + 1);  // [32][d + 1] (padded: keys of one row hit distinct banks)
  float* v_step = k_step + kKeyStep * (d + 1);       // [32][d]
  float* p_step = v_step + kKeyStep * d;             // [64][33]
  const int tile = blockIdx.x, tid = threadIdx.x;
  const int local_row = tid / kThreadsPerRow, lane = tid % kThreadsPerRow;
  const int tile_row0 = tile * kLabGatherTileRows;
  const int rows_here = min(kLabGatherTileRows, p.rows - tile_row0);
  const bool live = local_row < rows_here;
  const std::int64_t row = static_cast<std::int64_t>(p.row_begin) + tile_row0 + local_row;  // absolute
  for (int e = tid; e < kLabGatherTileRows * d; e += kThreads) {
    const int r = e / d, c = e % d;
    q_tile[r * (d + 1) + c] = r < rows_here ? p.query[(static_cast<std::int64_t>(p.row_begin) + tile_row0 + r) * d + c] : 0.0f;
  }
  const std::int32_t* keys = p.tile_keys + tile * p.tile_keys_stride;
  const int key_count = p.tile_key_count[tile];
  const std::uint32_t* bits = p.row_bits + (static_cast<std::int64_t>(tile_row0) + (live ? local_row : 0)) * p.row_bits_stride;
  // Fully unrolled loops with a guard keep out[] in registers (a loop bounded by d would index it dynamically and
  // move it to local memory).
  constexpr int kMaxColumns = kLabGatherMaxHeadDim / kThreadsPerRow;
  const int columns = d / kThreadsPerRow;
  float out[kMaxColumns];
#pragma unroll
  for (int c = 0; c < kMaxColumns; ++c) out[c] = 0.0f;
  float row_max = -CUDART_INF_F, row_sum = 0.0f;
  for (int base = 0; base < key_count; base += kKeyStep) {
    __syncthreads();  // the previous step's k, v and p are consumed
    for (int e = tid; e < kKeyStep * d; e += kThreads) {
      const int s = e / d, c = e % d;
      const bool in = base + s < key_count;
      const std::int64_t j = in ? keys[base + s] : 0;
      k_step[s * (d + 1) + c] = in ? p.key[j * d + c] : 0.0f;
      v_step[e] = in ? p.value[j * d + c] : 0.0f;
    }
    __syncthreads();
    float score[kKeysPerThread];
    float step_max = -CUDART_INF_F;
    const std::uint32_t word = live && base / 32 < (key_count + 31) / 32 ? bits[base / 32] : 0u;
#pragma unroll
    for (int m = 0; m < kKeysPerThread; ++m) {
      const int s = lane + kThreadsPerRow * m;
      const bool kept = ((word >> s) & 1u) && base + s < key_count;  // kKeyStep == 32: one word per step
      float dot = 0.0f;
      if (kept) {
        const float* q = q_tile + local_row * (d + 1);
        const float* k = k_step + s * (d + 1);
        for (int c = 0; c < d; ++c) dot = fmaf(q[c], k[c], dot);
      }
      score[m] = kept ? dot * p.scale + p.beta[keys[base + s]] : -CUDART_INF_F;
      step_max = fmaxf(step_max, score[m]);
    }
    step_max = row_reduce_max(step_max);
    const float new_max = fmaxf(row_max, step_max);
    // A row that has kept nothing so far keeps max −∞ and weights 0 (never exp(−∞ − −∞)).
    const float rescale = new_max == -CUDART_INF_F ? 1.0f : __expf(row_max - new_max);
    float step_sum = 0.0f;
#pragma unroll
    for (int m = 0; m < kKeysPerThread; ++m) {
      const float weight = score[m] == -CUDART_INF_F ? 0.0f : expf(score[m] - new_max);
      p_step[local_row * (kKeyStep + 1) + lane + kThreadsPerRow * m] = weight;
      step_sum += weight;
    }
    row_sum = row_sum * rescale + row_reduce_sum(step_sum);
    row_max = new_max;
    __syncwarp();
#pragma unroll
    for (int c = 0; c < kMaxColumns; ++c) {
      if (c >= columns) break;
      const int column = lane + kThreadsPerRow * c;
      float acc = out[c] * rescale;
      for (int s = 0; s < kKeyStep; ++s) acc = fmaf(p_step[local_row * (kKeyStep + 1) + s], v_step[s * d + column], acc);
      out[c] = acc;
    }
  }
  if (!live) return;
  const float inverse = row_sum > 0.0f ? 1.0f / row_sum : 0.0f;
  // row_sum is NaN when a score was: NaN · anything stays NaN, so the metrics see it.
#pragma unroll
  for (int c = 0; c < kMaxColumns; ++c)
    if (c < columns)
      p.out[(row - p.row_begin) * d + lane + kThreadsPerRow * c] = row_sum != row_sum ? row_sum : out[c] * inverse;
}

}  // namespace

const char* gather_attention_unsupported(const GatherAttentionParams& params) {
  if (params.head_dim < 4 || params.head_dim > kLabGatherMaxHeadDim || params.head_dim % 4 != 0)
    return "the gather kernel needs a head dimension that is a multiple of 4 between 4 and 128";
  if (params.rows < 0 || params.row_begin < 0) return "the gather kernel got a negative row range";
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
