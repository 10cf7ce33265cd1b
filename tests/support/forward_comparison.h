// What the tests comparing two forwards of one model share: random token ids, the kept sets a layer's death indices
// describe (to run the CPU forward on another forward's masks through ForwardOptions::kept_sets), and the measures of
// two forwards' logits ([1, L, V]): relative error, overall and by row quarter, and top-1 agreement with its flips.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/attention/attention_kept_sets.h"
#include "core/formats/tensor.h"
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

inline double frobenius_relative_error(const Tensor& test, const Tensor& reference) {
  const float* a = test.data<float>();
  const float* b = reference.data<float>();
  double difference = 0.0, norm = 0.0;
  for (std::int64_t i = 0; i < reference.numel(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;  // a NaN never passes
    difference += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    norm += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(difference / std::max(norm, 1e-300));
}

// The relative error of each quarter of the rows: a fault that depends on the position shows in the later quarters.
inline std::string error_by_row_quarter(const Tensor& test, const Tensor& reference) {
  const std::int64_t rows = reference.shape()[1], V = reference.shape()[2];
  std::string text;
  for (std::int64_t q = 0; q < 4; ++q) {
    double difference = 0.0, norm = 0.0;
    for (std::int64_t r = q * rows / 4; r < (q + 1) * rows / 4; ++r)
      for (std::int64_t v = 0; v < V; ++v) {
        const double a = test.data<float>()[r * V + v], b = reference.data<float>()[r * V + v];
        difference += (a - b) * (a - b);
        norm += b * b;
      }
    text += fmt::format(" {:.4f}", std::sqrt(difference / std::max(norm, 1e-300)));
  }
  return text;
}

inline double top_one_agreement(const Tensor& test, const Tensor& reference) {
  const std::int64_t rows = reference.shape()[1], V = reference.shape()[2];
  std::int64_t same = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* a = test.data<float>() + r * V;
    const float* b = reference.data<float>() + r * V;
    same += std::max_element(a, a + V) - a == std::max_element(b, b + V) - b;
  }
  return static_cast<double>(same) / static_cast<double>(rows);
}

// The rows whose top-1 token differs, each as the reference's margin between its own top-1 and the test's top-1 over
// the row's RMS logit difference: a flip with a margin of a few RMS differences or less is a near-tie that any
// rounding of the hidden states may turn; a large ratio would be a real fault.
inline std::string top_one_flips(const Tensor& test, const Tensor& reference) {
  const std::int64_t rows = reference.shape()[1], V = reference.shape()[2];
  std::string text;
  int flips = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* a = test.data<float>() + r * V;
    const float* b = reference.data<float>() + r * V;
    const std::int64_t top_a = std::max_element(a, a + V) - a, top_b = std::max_element(b, b + V) - b;
    if (top_a == top_b) continue;
    double squares = 0.0;
    for (std::int64_t v = 0; v < V; ++v) {
      const double difference = static_cast<double>(a[v]) - b[v];
      squares += difference * difference;
    }
    const double rms = std::sqrt(squares / static_cast<double>(V));
    text += fmt::format(" row {} margin {:.3g} = {:.2f} RMS;", r, b[top_b] - b[top_a], (b[top_b] - b[top_a]) / rms);
    ++flips;
  }
  return fmt::format("{} flips{}", flips, flips > 0 ? ":" + text : "");
}

}  // namespace dmascope::testing
