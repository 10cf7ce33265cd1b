#include "core/linear.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace dmascope {

namespace {

constexpr int kLanes = 8;      // independent partial sums per dot product, so the compiler can vectorize
constexpr int kRowBlock = 4;   // rows of x per micro-tile
constexpr int kOutBlock = 4;   // rows of w per micro-tile

// A kRowBlock × kOutBlock tile of dot products (fewer at the edges). Each loaded vector of x and w is used
// kOutBlock resp. kRowBlock times, which is what makes this faster than one dot product at a time.
template <int Rows, int Outs>
void dot_tile(const float* x, std::int64_t in_features, const float* w, float* y, std::int64_t y_stride,
              const float* bias) {
  float partial[Rows][Outs][kLanes] = {};
  const std::int64_t vector_end = in_features - in_features % kLanes;
  for (std::int64_t i = 0; i < vector_end; i += kLanes)
    for (int r = 0; r < Rows; ++r)
      for (int o = 0; o < Outs; ++o)
        for (int lane = 0; lane < kLanes; ++lane)
          partial[r][o][lane] += x[r * in_features + i + lane] * w[o * in_features + i + lane];
  for (int r = 0; r < Rows; ++r)
    for (int o = 0; o < Outs; ++o) {
      float sum = 0.0f;
      for (int lane = 0; lane < kLanes; ++lane) sum += partial[r][o][lane];
      for (std::int64_t i = vector_end; i < in_features; ++i) sum += x[r * in_features + i] * w[o * in_features + i];
      y[r * y_stride + o] = sum + (bias ? bias[o] : 0.0f);
    }
}

template <int Rows>
void dot_row_block(const float* x, std::int64_t in_features, const float* w, std::int64_t out_begin,
                   std::int64_t out_end, const float* bias, float* y, std::int64_t y_stride) {
  std::int64_t o = out_begin;
  for (; o + kOutBlock <= out_end; o += kOutBlock)
    dot_tile<Rows, kOutBlock>(x, in_features, w + o * in_features, y + o, y_stride, bias ? bias + o : nullptr);
  for (; o < out_end; ++o) dot_tile<Rows, 1>(x, in_features, w + o * in_features, y + o, y_stride, bias ? bias + o : nullptr);
}

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
      switch (std::min<std::int64_t>(kRowBlock, rows - r0)) {
        case 4: dot_row_block<4>(x_rows, in_features, weight, o0, o1, bias, y_rows, out_features); break;
        case 3: dot_row_block<3>(x_rows, in_features, weight, o0, o1, bias, y_rows, out_features); break;
        case 2: dot_row_block<2>(x_rows, in_features, weight, o0, o1, bias, y_rows, out_features); break;
        default: dot_row_block<1>(x_rows, in_features, weight, o0, o1, bias, y_rows, out_features); break;
      }
    }
  });
}

void matmul_nt_f32_serial(const float* a, std::int64_t rows, std::int64_t inner, const float* b, std::int64_t b_rows,
                          float* c) {
  std::int64_t r0 = 0;
  for (; r0 + kRowBlock <= rows; r0 += kRowBlock)
    dot_row_block<kRowBlock>(a + r0 * inner, inner, b, 0, b_rows, nullptr, c + r0 * b_rows, b_rows);
  for (; r0 < rows; ++r0) dot_row_block<1>(a + r0 * inner, inner, b, 0, b_rows, nullptr, c + r0 * b_rows, b_rows);
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
