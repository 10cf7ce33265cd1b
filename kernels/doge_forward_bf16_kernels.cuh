// Device entry points of the bf16 GPU Doge forward (kernels/doge_forward_bf16_kernels.cu). Host-side use:
// DogeForwardBf16 (kernels/doge_forward_bf16.cpp). Activations are bf16 and row-major, batch 1; each kernel computes
// in fp32 and rounds every result that transformers rounds when the model runs in bf16 (dma-spec §1.2, §3.3), so that
// β, and with it the mask, follows what transformers computes on the GPU. Every kernel that writes an activation also
// raises its step's flag (an int on the device, set to 1) when a value it wrote is not finite; the host reads all
// flags once, after the forward.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace dmascope::cuda::detail {

using bf16_t = __nv_bfloat16;

// x[p, :] = embed[ids[p], :]; embed [V, D], x [L, D].
void launch_embed_rows_bf16(const bf16_t* embed, const std::int32_t* ids, int length, int hidden, bf16_t* x,
                            cudaStream_t stream);
// RMSNorm of `rows` vectors of `features`: vector r starts at x + (r / group)·stride + (r % group)·features (group 1,
// stride = features: plain rows; group = heads, stride = a fused projection's row: the per-head q/k norms in place).
// y = weight ⊙ bf16(x · rsqrt(mean(x²) + eps)), the statistics in fp32; y may be x; y uses x's addressing.
void launch_rms_norm_bf16(const bf16_t* x, long long rows, int features, int group, long long stride,
                          const bf16_t* weight, float eps, bf16_t* y, int* flag, cudaStream_t stream);
// y[r, o] += bias[o] for y [rows, out].
void launch_add_row_bias_bf16(bf16_t* y, long long rows, int out, const bf16_t* bias, cudaStream_t stream);
// Heads of x (token p, head h at x + p·row_stride + h·head_dim) → y [heads, L, padded_dim], rotated by RoPE with
// inv_freq [head_dim/2] when `rotate` (cos/sin rounded to bf16, x·cos + rotate_half(x)·sin as transformers), copied
// otherwise (v); elements head_dim..padded_dim−1 are zero, so a zero-padded head attends as the unpadded one.
void launch_heads_first_bf16(const bf16_t* x, int length, int heads, long long row_stride, int head_dim,
                             int padded_dim, const float* inverse_frequencies, bool rotate, bf16_t* y, int* flag,
                             cudaStream_t stream);
// dt [L, Hb] → β [Hb, L] fp32 holding bf16 values: bf16(exp(bf16(A · bf16(softplus(dt))))) (exp_formula) or
// bf16(A · bf16(softplus(dt))). A non-finite β raises the flag and is stored as 0, so the mask build ranks numbers.
void launch_dynamic_bias_bf16(const bf16_t* dt, int length, int bias_heads, const bf16_t* A, bool exp_formula,
                              float* beta, int* flag, cudaStream_t stream);
// The attention output [heads, L, padded_dim] → context [L, heads·head_dim] (o_proj's input).
void launch_heads_to_tokens_bf16(const bf16_t* o, int length, int heads, int head_dim, int padded_dim, bf16_t* context,
                                 int* flag, cudaStream_t stream);
// x[p, c] = bf16(bf16(residual[c]·x[p, c]) + update[p, c])
void launch_residual_bf16(bf16_t* x, const bf16_t* residual_weight, const bf16_t* update, long long rows, int features,
                          int* flag, cudaStream_t stream);
// out[p, i] = bf16(bf16(silu(gate_up[p, i])) · gate_up[p, I + i]) for gate_up [L, 2I] (gate and up in one GEMM).
void launch_silu_gate_bf16(const bf16_t* gate_up, long long rows, int intermediate, bf16_t* out, int* flag,
                           cudaStream_t stream);
// flag = 1 when some values[i] (i < count) is not finite: for the outputs no other kernel of the step reads (logits).
void launch_flag_non_finite(const float* values, long long count, int* flag, cudaStream_t stream);
void launch_flag_non_finite(const bf16_t* values, long long count, int* flag, cudaStream_t stream);

}  // namespace dmascope::cuda::detail
