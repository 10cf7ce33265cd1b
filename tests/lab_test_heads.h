// Random lab heads for the mask-lab tests: q and k on a grid of 1/8 so that every q·k (and NSA's block means of
// 64 keys) is exact in fp32 whatever the summation order, which makes ties exact and lets the brute-force
// references pick the same keys as the product code; β with few distinct values, so that ties occur there too.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/lab/lab_head.h"
#include "core/mask/dma_mask.h"

namespace dmascope::testing {

struct OwnedLabHead {
  std::vector<float> query, key, value, beta;
  std::vector<std::int32_t> dma_death, shared_death;
  LabHead head;
};

inline void make_random_head(OwnedLabHead& owned, std::int64_t length, std::int64_t head_dim, std::int64_t window,
                             std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> grid(-8, 8), beta_level(0, 5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const auto n = static_cast<std::size_t>(length * head_dim);
  owned.query.resize(n);
  owned.key.resize(n);
  owned.value.resize(n);
  owned.beta.resize(static_cast<std::size_t>(length));
  for (auto& x : owned.query) x = static_cast<float>(grid(rng)) / 8.0f;
  for (auto& x : owned.key) x = static_cast<float>(grid(rng)) / 8.0f;
  for (auto& x : owned.value) x = normal(rng);
  for (auto& x : owned.beta) x = 0.25f * static_cast<float>(beta_level(rng));
  owned.dma_death = dma_death_indices(owned.beta, window, MaskVariant::PerRowTopK);
  owned.shared_death = dma_death_indices(owned.beta, window, MaskVariant::SharedTopK);
  LabHead& head = owned.head;
  head.length = length;
  head.head_dim = head_dim;
  head.scale = 0.5f;  // a power of two keeps the scores exact too
  head.window = window;
  head.query = owned.query;
  head.key = owned.key;
  head.value = owned.value;
  head.beta = owned.beta;
  head.dma_death = owned.dma_death;
  head.shared_death = owned.shared_death;
}

}  // namespace dmascope::testing
