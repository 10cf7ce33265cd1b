// The CPU backend's claim, checked where CI runs (2 cores): at L = 4096, w = 256 the gathering DMA kernel beats the
// same tiled kernel run dense by at least 2× (measured ≈ 6× on 2 cores, so load from parallel tests leaves room).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "core/attention/attention_cpu.h"
#include "core/mask/bias_patterns.h"
#include "core/mask/dma_mask.h"

namespace dmascope {
namespace {

template <class Work>
double median_ms(Work&& work, int repeats) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

TEST(CpuKernelSpeed, DmaWithMaskBuildIsAtLeastTwiceAsFastAsDenseAtL4096W256) {
  const std::int64_t L = 4096, d = 64, w = 256;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> q(2 * L * d), k(L * d), v(L * d), out(q.size());
  for (auto* x : {&q, &k, &v})
    for (auto& value : *x) value = normal(rng);
  const auto beta = make_bias(BiasPattern::Random, 1, L, 7);
  AttentionProblem problem;
  problem.q_heads = 2;
  problem.q_len = problem.key_len = L;
  problem.head_dim = d;
  problem.scale = 0.125f;
  problem.q = q.data();
  problem.k = k.data();
  problem.v = v.data();
  std::vector<std::int32_t> death;
  const double dma = median_ms(
      [&] {
        death = dma_death_indices(beta, w);
        problem.beta = beta.data();
        problem.death = death.data();
        attention_tiled(problem, TileShape{64, 64}, out.data());
      },
      3);
  problem.beta = nullptr;
  problem.death = nullptr;
  const double dense = median_ms([&] { attention_tiled(problem, TileShape{64, 64}, out.data()); }, 3);
  RecordProperty("dma_ms", std::to_string(dma));
  RecordProperty("dense_ms", std::to_string(dense));
  EXPECT_GE(dense / dma, 2.0) << "DMA " << dma << " ms, dense " << dense << " ms";
}

}  // namespace
}  // namespace dmascope
