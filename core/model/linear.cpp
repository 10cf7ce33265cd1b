#include "core/model/linear.h"

#include <algorithm>
#include <cmath>

#include "core/base/parallel.h"

namespace dmascope {

namespace linear_kernels {
namespace generic {
void dot_rows(const float* x, std::int64_t rows, std::int64_t in_features, const float* w, std::int64_t out_begin,
              std::int64_t out_end, const float* bias, float* y, std::int64_t y_stride);
}
namespace avx2 {
void dot_rows(const float* x, std::int64_t rows, std::int64_t in_features, const float* w, std::int64_t out_begin,
              std::int64_t out_end, const float* bias, float* y, std::int64_t y_stride);
}
}  // namespace linear_kernels

namespace {

constexpr int kRowBlock = 4;  // rows of x per micro-tile (as in linear_microkernel.inl)

using DotRows = void (*)(const float*, std::int64_t, std::int64_t, const float*, std::int64_t, std::int64_t,
                         const float*, float*, std::int64_t);

// AVX2 + FMA when the CPU has them (about 2.5x on the Doge forward), the baseline build otherwise. Built only for
// x86-64; DMASCOPE_NO_AVX2 (CMake) leaves the AVX2 copy out elsewhere.
DotRows pick_dot_rows() {
#if defined(__x86_64__) && !defined(DMASCOPE_NO_AVX2)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return linear_kernels::avx2::dot_rows;
#endif
  return linear_kernels::generic::dot_rows;
}

const DotRows dot_rows = pick_dot_rows();

}  // namespace

void linear_f32(const float* x, std::int64_t rows, std::int64_t in_features, const float* weight,
                std::int64_t out_features, const float* bias, float* y) {
  // Work items are (row block, output block) pairs; output blocks of 64 weights keep them in L1/L2 while the
  // row block streams past.
  constexpr std::int64_t kOutChunk = 64;
  const std::int64_t row_blocks = (rows + kRowBlock - 1) / kRowBlock;
  const std::int64_t out_chunks = (out_features + kOutChunk - 1) / kOutChunk;
  parallel_for(row_blocks * out_chunks, 16, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t item = begin; item < end; ++item) {
      const std::int64_t out_chunk = item / row_blocks, row_block = item % row_blocks;
      const std::int64_t r0 = row_block * kRowBlock, o0 = out_chunk * kOutChunk;
      const std::int64_t o1 = std::min(out_features, o0 + kOutChunk);
      const float* x_rows = x + r0 * in_features;
      float* y_rows = y + r0 * out_features;
      dot_rows(x_rows, std::min<std::int64_t>(kRowBlock, rows - r0), in_features, weight, o0, o1, bias, y_rows,
               out_features);
    }
  });
}

void matmul_nt_f32_serial(const float* a, std::int64_t rows, std::int64_t inner, const float* b, std::int64_t b_rows,
                          float* c) {
  for (std::int64_t r0 = 0; r0 < rows; r0 += kRowBlock)
    dot_rows(a + r0 * inner, std::min<std::int64_t>(kRowBlock, rows - r0), inner, b, 0, b_rows, nullptr, c + r0 * b_rows,
             b_rows);
}

void rms_norm_f32(const float* x, std::int64_t rows, std::int64_t features, const float* weight, double eps,
                  float* y) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * features;
    float sum_squares = 0.0f;
    for (std::int64_t i = 0; i < features; ++i) sum_squares += row[i] * row[i];
    const float inverse_rms = 1.0f / std::sqrt(sum_squares / static_cast<float>(features) + static_cast<float>(eps));
    for (std::int64_t i = 0; i < features; ++i) y[r * features + i] = weight[i] * (row[i] * inverse_rms);
  }
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

}  // namespace dmascope
