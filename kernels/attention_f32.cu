// DMA attention in fp32 for the GPU Doge forward: exact-semantics attention over the kept keys, for any head_dim up to
// 128 (the bf16/fp16 tensor-core kernel of attention_fwd.cu covers 64 and 128 only, and not fp32). Twin:
// attention_reference (core/attention/attention_cpu.h) with a death array.
//
// grid (q_tiles, Hq), block 256 = 8 warps; no shared memory. Block (t, h) owns query rows [64t, 64t + 64) of query
// head h; warp w takes rows 64t + w, + 8, ... One warp computes one row: lane ℓ holds elements ℓ, ℓ+32, ℓ+64, ℓ+96 of
// q, of the running output and of each key/value vector; the row walks its tile's gather list (the keys some row of
// the tile keeps, ascending, from launch_gather_lists), skips keys its own row does not keep (j ≤ i < death[j] fails:
// the test is warp-uniform), and for a kept key reduces q·k over the warp and updates an online softmax.
#include <cfloat>

#include "kernels/cuda_check.h"
#include "core/attention/tile_sizes.h"
#include "kernels/doge_forward_kernels.cuh"

namespace dmascope::cuda::detail {

namespace {

constexpr int kRows = kTileRows;  // query rows per tile: the gather lists' tile
constexpr int kWarps = 8;
constexpr int kMaxPerLane = 4;    // 4 × 32 lanes = head_dim 128

__global__ void __launch_bounds__(kWarps * 32) attention_f32_kernel(AttentionF32Params p) {
  const int tile = blockIdx.x, head = blockIdx.y;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int kv_head = head / (p.q_heads / p.kv_heads);
  const int bias_head = p.bias_heads == p.q_heads ? head : head / (p.q_heads / p.bias_heads);
  const std::int32_t* death = p.death + static_cast<long long>(bias_head) * p.length;
  const float* beta = p.beta + static_cast<long long>(bias_head) * p.length;
  const long long list_index = static_cast<long long>(bias_head) * p.q_tiles + tile;
  const std::int32_t* list = p.lists + list_index * p.capacity;
  const int count = p.counts[list_index];
  const float* k_head = p.k + kv_head * p.k_head_stride;
  const float* v_head = p.v + kv_head * p.v_head_stride;
  for (int row = tile * kRows + warp; row < min(p.length, tile * kRows + kRows); row += kWarps) {
    const float* q_row = p.q + head * p.q_head_stride + row * p.q_row_stride;
    float q[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
    for (int t = 0; t < kMaxPerLane; ++t) {
      const int e = lane + 32 * t;
      q[t] = e < p.head_dim ? q_row[e] : 0.0f;
      acc[t] = 0.0f;
    }
    float running_max = -FLT_MAX, running_sum = 0.0f;
    for (int slot = 0; slot < count; ++slot) {
      const int j = list[slot];
      if (j > row) break;  // the list is ascending: the rest is in this row's future
      if (row >= death[j]) continue;
      const float* k_row = k_head + j * p.k_row_stride;
      float partial = 0.0f;
#pragma unroll
      for (int t = 0; t < kMaxPerLane; ++t) {
        const int e = lane + 32 * t;
        if (e < p.head_dim) partial += q[t] * k_row[e];
      }
      for (int offset = 16; offset > 0; offset /= 2) partial += __shfl_xor_sync(0xFFFFFFFFu, partial, offset);
      const float score = partial * p.scale + beta[j];
      const float new_max = fmaxf(running_max, score);
      const float correction = expf(running_max - new_max), weight = expf(score - new_max);
      running_sum = running_sum * correction + weight;
      running_max = new_max;
      const float* v_row = v_head + j * p.v_row_stride;
#pragma unroll
      for (int t = 0; t < kMaxPerLane; ++t) {
        const int e = lane + 32 * t;
        if (e < p.head_dim) acc[t] = acc[t] * correction + weight * v_row[e];
      }
    }
    // A row with no kept key cannot occur for w ≥ 1; like the CPU reference, it would get zeros.
    const float inverse_sum = running_sum > 0.0f ? 1.0f / running_sum : 0.0f;
    float* out_row = p.out + head * p.out_head_stride + row * p.out_row_stride;
#pragma unroll
    for (int t = 0; t < kMaxPerLane; ++t) {
      const int e = lane + 32 * t;
      if (e < p.head_dim) out_row[e] = acc[t] * inverse_sum;
    }
  }
}

}  // namespace

void launch_attention_f32(const AttentionF32Params& params, cudaStream_t stream) {
  if (params.head_dim < 1 || params.head_dim > 32 * kMaxPerLane)
    throw_kernel_error("attention_f32: head_dim " + std::to_string(params.head_dim) + " (supported: 1..128)");
  if (params.length == 0) return;
  attention_f32_kernel<<<dim3(params.q_tiles, params.q_heads), kWarps * 32, 0, stream>>>(params);
  DMASCOPE_CUDA_CHECK_LAUNCH();
}

}  // namespace dmascope::cuda::detail
