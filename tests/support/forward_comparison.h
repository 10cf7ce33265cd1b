// What the tests comparing two forwards of one model share: random token ids, and the kept sets a layer's death
// indices describe (to run the CPU forward on another forward's masks through ForwardOptions::kept_sets).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/attention/attention_kept_sets.h"
#include "core/formats/tensor.h"

namespace dmascope::testing {

inline std::vector<std::int32_t> random_ids(std::int64_t length, std::int64_t vocab, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(vocab - 1));
  std::vector<std::int32_t> ids(static_cast<std::size_t>(length));
  for (auto& id : ids) id = token(rng);
  return ids;
}

// The kept sets of a layer's death indices ([bias heads, L]: keep(i, j) ⇔ j ≤ i < death[j]), one per query head.
inline std::vector<KeptKeySets> kept_sets_of_death(const Tensor& death, const AttentionProblem& problem) {
  const std::int64_t L = problem.key_len;
  std::vector<KeptKeySets> heads(static_cast<std::size_t>(problem.q_heads));
  for (std::int64_t h = 0; h < problem.q_heads; ++h) {
    const std::int32_t* row_death = death.data<std::int32_t>() + problem.bias_head_of(h) * L;
    KeptKeySets& sets = heads[static_cast<std::size_t>(h)];
    for (std::int64_t i = 0; i < L; ++i) {
      for (std::int64_t j = 0; j <= i; ++j)
        if (i < row_death[j]) sets.keys.push_back(static_cast<std::int32_t>(j));
      sets.offsets.push_back(static_cast<std::int64_t>(sets.keys.size()));
    }
  }
  return heads;
}

}  // namespace dmascope::testing
