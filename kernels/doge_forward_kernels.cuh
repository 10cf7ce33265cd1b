// Device entry points of the GPU Doge forward (kernels/doge_forward_kernels.cu, kernels/attention_f32.cu). Host-side
// use: DogeForwardCuda (kernels/doge_forward_cuda.cpp). All fp32, row-major, batch 1; every launch is checked.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dmascope::cuda::detail {

// x[p, :] = embed[ids[p], :]; embed [V, D], x [L, D].
void launch_embed_rows(const float* embed, const std::int32_t* ids, int length, int hidden, float* x,
                       cudaStream_t stream);
// y[r, :] = weight ⊙ x[r, :] · rsqrt(mean(x[r, :]²) + eps); in place allowed (y == x).
void launch_rms_norm(const float* x, long long rows, int features, const float* weight, float eps, float* y,
                     cudaStream_t stream);
// y[r, o] += bias[o] for y [rows, out].
void launch_add_row_bias(float* y, long long rows, int out, const float* bias, cudaStream_t stream);
// x [L, heads, d] (a projection's output) → y [heads, L, d] rotated by RoPE with inv_freq [d/2].
void launch_rope_heads_first(const float* x, int length, int heads, int head_dim, const float* inverse_frequencies,
                             float* y, cudaStream_t stream);
// dt [L, Hb] → β [Hb, L]: exp(A·softplus(dt)) (exp_formula) or A·softplus(dt).
void launch_dynamic_bias(const float* dt, int length, int bias_heads, const float* A, bool exp_formula, float* beta,
                         cudaStream_t stream);
// x[p, c] = residual[c]·x[p, c] + update[p, c]
void launch_residual(float* x, const float* residual_weight, const float* update, long long rows, int features,
                     cudaStream_t stream);
// gate[i] = silu(gate[i])·up[i]
void launch_silu_gate(float* gate, const float* up, long long count, cudaStream_t stream);

// DMA attention in fp32 over the gather lists of launch_gather_lists (kernels/mask_build.cuh): row i of query head h
// attends to the listed keys j of its 64-row tile with j ≤ i < death[b(h), j]. Element (head, row) of q is at
// q + head·q_head_stride + row·q_row_stride (same for k and v with the kv head), out likewise. head_dim ≤ 128.
struct AttentionF32Params {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const float* beta = nullptr;          // [Hb, L]
  const std::int32_t* death = nullptr;  // [Hb, L]
  const std::int32_t* lists = nullptr;  // [Hb, q_tiles, capacity]
  const std::int32_t* counts = nullptr; // [Hb, q_tiles]
  float* out = nullptr;
  long long q_head_stride = 0, q_row_stride = 0, k_head_stride = 0, k_row_stride = 0, v_head_stride = 0;
  long long v_row_stride = 0;
  long long out_head_stride = 0, out_row_stride = 0;
  int q_heads = 1, kv_heads = 1, bias_heads = 1, length = 0, head_dim = 0, q_tiles = 0, capacity = 0;
  float scale = 1.0f;
};
void launch_attention_f32(const AttentionF32Params& params, cudaStream_t stream);

}  // namespace dmascope::cuda::detail
