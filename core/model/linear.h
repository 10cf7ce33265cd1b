// Dense float32 building blocks of the CPU forward pass. Layouts are row-major and match PyTorch's:
// a Linear weight is [out_features, in_features], activations are [rows, features].
#pragma once

#include <cstdint>

namespace dmascope {

// y[r, o] = Σ_i x[r, i] · w[o, i] (+ bias[o]); both operands are read along contiguous rows. bias may be null.
void linear_f32(const float* x, std::int64_t rows, std::int64_t in_features, const float* weight,
                std::int64_t out_features, const float* bias, float* y);

// Row-wise RMSNorm as transformers computes it in fp32: y = w · (x · rsqrt(mean(x²) + eps)).
void rms_norm_f32(const float* x, std::int64_t rows, std::int64_t features, const float* weight, double eps, float* y);

float silu(float x);
float softplus(float x);  // torch's: beta 1, threshold 20 (x itself above 20)

}  // namespace dmascope

namespace dmascope {
// c[r, n] = Σ_i a[r, i] · b[n, i] on the calling thread (the attention kernels parallelize outside).
void matmul_nt_f32_serial(const float* a, std::int64_t rows, std::int64_t inner, const float* b, std::int64_t b_rows,
                          float* c);
}  // namespace dmascope
