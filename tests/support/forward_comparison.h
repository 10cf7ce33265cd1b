// What the tests comparing two forwards of one model share: random token ids, the kept sets a layer's death indices
// describe (to run the CPU forward on another forward's masks through ForwardOptions::kept_sets). The measures of two
// forwards' logits are the product's own: core/model/forward_agreement.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/attention/attention_kept_sets.h"
#include "core/formats/tensor.h"
#include "core/model/forward_agreement.h"
#include "tests/test_paths.h"

namespace dmascope::testing {

// The folders of every fixture model (tests/fixtures/data/models) and bundled model (assets/models), sorted.
inline std::vector<std::filesystem::path> fixture_and_bundled_model_dirs() {
  std::vector<std::filesystem::path> dirs;
  for (const auto& root : {fixtures_dir() / "models", source_dir() / "assets" / "models"})
    for (const auto& entry : std::filesystem::directory_iterator(root))
      if (entry.is_directory()) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

inline std::vector<std::int32_t> random_ids(std::int64_t length, std::int64_t vocab, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(vocab - 1));
  std::vector<std::int32_t> ids(static_cast<std::size_t>(length));
  for (auto& id : ids) id = token(rng);
  return ids;
}

// The kept sets of a layer's death indices ([bias heads, L]), one per query head of `problem`.
inline std::vector<KeptKeySets> kept_sets_of_death(const Tensor& death, const AttentionProblem& problem) {
  return kept_sets_of_layer_death({death.data<std::int32_t>(), static_cast<std::size_t>(death.numel())}, problem);
}

}  // namespace dmascope::testing
