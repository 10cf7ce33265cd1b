// What the kernel tests share: skipping where there is no GPU, and the random β they feed the mask builds.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/dma_cuda.h"

// Skips the test (not fails) on a machine without a usable CUDA GPU: CI runs the same suite without one.
#define SKIP_WITHOUT_GPU()                                                                    \
  do {                                                                                        \
    if (!::dmascope::cuda::device_info().available) GTEST_SKIP() << "no CUDA GPU (sm_80+)"; \
  } while (0)

namespace dmascope::cuda::test_support {

// β = exp(N(0, 1)) (the bench's "random"), or `distinct_values` > 0 values only (ties at every top-w boundary).
inline std::vector<float> random_beta(std::int64_t count, std::mt19937& rng, int distinct_values) {
  std::vector<float> beta(static_cast<std::size_t>(count));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, std::max(1, distinct_values) - 1);
  for (auto& value : beta)
    value = distinct_values > 0 ? 0.5f + 0.25f * static_cast<float>(pick(rng)) : std::exp(normal(rng));
  return beta;
}

}  // namespace dmascope::cuda::test_support
