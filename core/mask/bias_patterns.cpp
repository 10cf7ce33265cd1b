#include "core/mask/bias_patterns.h"

#include <cmath>
#include <random>

#include "core/attention/tile_sizes.h"
#include "core/base/error.h"

namespace dmascope {

BiasPattern bias_pattern_from_name(std::string_view name) {
  if (name == "random") return BiasPattern::Random;
  if (name == "clustered") return BiasPattern::Clustered;
  fail("unknown bias pattern '{}' (expected random or clustered)", name);
}

std::vector<float> make_bias(BiasPattern pattern, std::int64_t segments, std::int64_t key_len, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> beta(static_cast<std::size_t>(segments * key_len));
  for (std::int64_t s = 0; s < segments; ++s) {
    float block_level = 0.0f;
    for (std::int64_t j = 0; j < key_len; ++j) {
      if (pattern == BiasPattern::Random) {
        beta[s * key_len + j] = std::exp(normal(rng));
      } else {
        if (j % kTileKeys == 0) block_level = normal(rng);  // one level per kernel key tile
        beta[s * key_len + j] = std::exp(2.0f * block_level + 0.1f * normal(rng));
      }
    }
  }
  return beta;
}

double causal_pairs(std::int64_t q_len, std::int64_t key_len) {
  const double first = static_cast<double>(key_len - q_len + 1), last = static_cast<double>(key_len);
  return (first + last) * static_cast<double>(q_len) / 2.0;
}

}  // namespace dmascope
