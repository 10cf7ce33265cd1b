// The dot-product micro-kernels behind linear_f32 and matmul_nt_f32_serial, compiled twice: once for the baseline
// x86-64 (linear_kernel_generic.cpp) and once with AVX2 + FMA (linear_kernel_avx2.cpp); linear.cpp picks one at run
// time from the CPU's features. Included with DMASCOPE_LINEAR_ISA set to the namespace to define them in.
// No include guard on purpose: each including file gets its own copy.
#include <cstdint>

namespace dmascope::linear_kernels::DMASCOPE_LINEAR_ISA {
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


// rows ≤ kRowBlock rows of x against weight rows [out_begin, out_end).
void dot_rows(const float* x, std::int64_t rows, std::int64_t in_features, const float* w, std::int64_t out_begin,
              std::int64_t out_end, const float* bias, float* y, std::int64_t y_stride) {
  switch (rows) {
    case 4: dot_row_block<4>(x, in_features, w, out_begin, out_end, bias, y, y_stride); break;
    case 3: dot_row_block<3>(x, in_features, w, out_begin, out_end, bias, y, y_stride); break;
    case 2: dot_row_block<2>(x, in_features, w, out_begin, out_end, bias, y, y_stride); break;
    default: dot_row_block<1>(x, in_features, w, out_begin, out_end, bias, y, y_stride); break;
  }
}

}  // namespace dmascope::linear_kernels::DMASCOPE_LINEAR_ISA
