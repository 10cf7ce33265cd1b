#include "core/model/forward_elementwise.h"

#include <algorithm>

#include "core/model/linear.h"

namespace dmascope {

void embed_rows_f32(const float* embed, std::span<const std::int32_t> ids, std::int64_t hidden, float* x) {
  for (std::size_t p = 0; p < ids.size(); ++p)
    std::copy_n(embed + static_cast<std::int64_t>(ids[p]) * hidden, hidden, x + static_cast<std::int64_t>(p) * hidden);
}

void residual_f32(float* x, const float* residual_weight, const float* update, std::int64_t rows,
                  std::int64_t features) {
  for (std::int64_t p = 0; p < rows; ++p)
    for (std::int64_t c = 0; c < features; ++c)
      x[p * features + c] = residual_weight[c] * x[p * features + c] + update[p * features + c];
}

void silu_gate_f32(float* gate, const float* up, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) gate[i] = silu(gate[i]) * up[i];
}

void heads_first_f32(const float* x, std::int64_t length, std::int64_t heads, std::int64_t head_dim, float* y) {
  for (std::int64_t p = 0; p < length; ++p)
    for (std::int64_t h = 0; h < heads; ++h)
      std::copy_n(x + (p * heads + h) * head_dim, head_dim, y + (h * length + p) * head_dim);
}

}  // namespace dmascope
