// The element-wise steps of the Doge forward pass as plain functions: the CPU twins of the GPU forward's kernels
// (kernels/doge_forward_cuda.h). core's doge_forward computes the same expressions inline.
#pragma once

#include <cstdint>
#include <span>

namespace dmascope {

// x[p, :] = embed[ids[p], :] for a [V, D] table (ids are checked by the caller).
void embed_rows_f32(const float* embed, std::span<const std::int32_t> ids, std::int64_t hidden, float* x);

// Doge's weighted residual: x[p, c] = residual_weight[c] · x[p, c] + update[p, c].
void residual_f32(float* x, const float* residual_weight, const float* update, std::int64_t rows,
                  std::int64_t features);

// The gated MLP's activation, in place: gate[i] = silu(gate[i]) · up[i].
void silu_gate_f32(float* gate, const float* up, std::int64_t count);

// x [L, heads, d] → y [heads, L, d]: the layout the attention kernels and LayerCapture use.
void heads_first_f32(const float* x, std::int64_t length, std::int64_t heads, std::int64_t head_dim, float* y);

}  // namespace dmascope
