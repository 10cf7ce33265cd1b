#include "core/model/rope.h"

#include <cmath>

namespace dmascope {

std::vector<float> rope_inverse_frequencies(const RopeSettings& rope, std::int64_t head_dim,
                                            std::int64_t max_position_embeddings, std::int64_t seq_len) {
  double base = rope.theta;  // a Python float in transformers: double until it meets the float32 exponent tensor
  if (rope.type == RopeType::Dynamic) {
    const double M = static_cast<double>(max_position_embeddings);
    const double s = static_cast<double>(std::max(seq_len, max_position_embeddings));
    const double d = static_cast<double>(head_dim);
    base = rope.theta * std::pow((rope.factor * s / M) - (rope.factor - 1.0), d / (d - 2.0));
  }
  std::vector<float> inverse(static_cast<std::size_t>(head_dim / 2));
  for (std::int64_t k = 0; k < head_dim / 2; ++k) {
    const float exponent = static_cast<float>(2 * k) / static_cast<float>(head_dim);
    inverse[k] = 1.0f / std::pow(static_cast<float>(base), exponent);
    if (rope.type == RopeType::Linear) inverse[k] /= static_cast<float>(rope.factor);
  }
  return inverse;
}

void apply_rope(float* x, std::int64_t positions, std::int64_t heads, std::int64_t head_dim,
                const std::vector<float>& inverse_frequencies, std::int64_t first_position) {
  const std::int64_t half = head_dim / 2;
  std::vector<float> cos_values(half), sin_values(half);
  for (std::int64_t p = 0; p < positions; ++p) {
    const float position = static_cast<float>(first_position + p);
    for (std::int64_t k = 0; k < half; ++k) {
      const float angle = position * inverse_frequencies[k];
      cos_values[k] = std::cos(angle);
      sin_values[k] = std::sin(angle);
    }
    for (std::int64_t h = 0; h < heads; ++h) {
      float* vec = x + (p * heads + h) * head_dim;
      for (std::int64_t k = 0; k < half; ++k) {  // [x1, x2]·cos + [−x2, x1]·sin
        const float first = vec[k], second = vec[k + half];
        vec[k] = first * cos_values[k] - second * sin_values[k];
        vec[k + half] = second * cos_values[k] + first * sin_values[k];
      }
    }
  }
}

}  // namespace dmascope
