#include "core/lab/lab_gather.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/base/error.h"

namespace dmascope {

std::vector<float> gather_attention(const LabHead& head, const TileGather& tile) {
  head.validate();
  const std::int64_t L = head.length, d = head.head_dim, rows = tile.row_end - tile.row_begin;
  if (tile.row_begin < 0 || tile.row_end > L || rows < 0)
    fail("gather attention: rows [{}, {}) outside the head's [0, {})", tile.row_begin, tile.row_end, L);
  for (std::int32_t j : tile.keys)
    if (j < 0 || j >= L) fail("gather attention: key {} outside the head's [0, {})", j, L);
  const auto slots = static_cast<std::int64_t>(tile.keys.size());
  std::vector<float> out(static_cast<std::size_t>(rows * d), 0.0f);
  std::vector<float> scores(static_cast<std::size_t>(slots));
  std::vector<double> accumulator(static_cast<std::size_t>(d));
  for (std::int64_t i = tile.row_begin; i < tile.row_end; ++i) {
    const float* q = head.query.data() + i * d;
    float top = -std::numeric_limits<float>::infinity();
    bool any = false;
    for (std::int64_t s = 0; s < slots; ++s) {
      if (!tile.keeps(i, s)) continue;
      const std::int64_t j = tile.keys[static_cast<std::size_t>(s)];
      float dot = 0.0f;
      for (std::int64_t c = 0; c < d; ++c) dot += q[c] * head.key[static_cast<std::size_t>(j * d + c)];
      const float score = dot * head.scale + head.beta[static_cast<std::size_t>(j)];
      scores[static_cast<std::size_t>(s)] = score;
      top = any ? std::max(top, score) : score;
      any = true;
    }
    if (!any) continue;
    std::fill(accumulator.begin(), accumulator.end(), 0.0);
    double sum = 0.0;
    for (std::int64_t s = 0; s < slots; ++s) {
      if (!tile.keeps(i, s)) continue;
      const std::int64_t j = tile.keys[static_cast<std::size_t>(s)];
      const double weight = std::exp(static_cast<double>(scores[static_cast<std::size_t>(s)]) - top);
      sum += weight;
      for (std::int64_t c = 0; c < d; ++c)
        accumulator[static_cast<std::size_t>(c)] += weight * head.value[static_cast<std::size_t>(j * d + c)];
    }
    float* o = out.data() + (i - tile.row_begin) * d;
    for (std::int64_t c = 0; c < d; ++c) o[c] = static_cast<float>(accumulator[static_cast<std::size_t>(c)] / sum);
  }
  return out;
}

}  // namespace dmascope
