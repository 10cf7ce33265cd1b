// The mask lab's strategies on the DMA kernels (kernels/lab_dma_kernels.h) against the CPU, on fresh random heads:
// dma's and shared's death indices built on the device equal the CPU's (ties to the lower index), swa's and sinks'
// are their positional ones, and each output is attention over exactly that kept set — an fp64 reference on the
// same bf16-rounded q, k, v — within the bf16 kernels' error. Skipped without a GPU. NaN never passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/base/error.h"
#include "core/formats/tensor.h"
#include "core/lab/strategy_death.h"
#include "kernels/dma_cuda.h"
#include "kernels/lab_dma_kernels.h"
#include "tests/gpu/gpu_test_support.h"
#include "tests/lab_test_heads.h"

namespace dmascope::cuda {
namespace {

// P is rounded to bf16 before P·V and the row sums are fp32: ~2^-9 relative per term, which over a row's kept keys
// stays well under 1 %; a wrong key or row moves the output by O(1).
constexpr double kOutputTolerance = 1e-2;

// fp64 attention of each row i over {j ≤ i : i < death[j]} with s = q·k·scale + β, on bf16-rounded q, k, v.
std::vector<double> reference_output(const LabHead& head, const std::vector<std::int32_t>& death) {
  const std::int64_t L = head.length, d = head.head_dim;
  std::vector<double> out(static_cast<std::size_t>(L * d), 0.0);
  std::vector<double> s;
  for (std::int64_t i = 0; i < L; ++i) {
    s.assign(static_cast<std::size_t>(i + 1), -INFINITY);
    double top = -INFINITY;
    for (std::int64_t j = 0; j <= i; ++j) {
      if (i >= death[static_cast<std::size_t>(j)]) continue;
      double dot = 0.0;
      for (std::int64_t c = 0; c < d; ++c)
        dot += static_cast<double>(round_to_bf16(head.query[i * d + c])) * round_to_bf16(head.key[j * d + c]);
      s[j] = dot * head.scale + head.beta[j];
      top = std::max(top, s[j]);
    }
    double total = 0.0;
    for (std::int64_t j = 0; j <= i; ++j) total += std::isinf(s[j]) ? 0.0 : std::exp(s[j] - top);
    for (std::int64_t j = 0; j <= i; ++j) {
      if (std::isinf(s[j])) continue;
      const double p = std::exp(s[j] - top) / total;
      for (std::int64_t c = 0; c < d; ++c) out[i * d + c] += p * round_to_bf16(head.value[j * d + c]);
    }
  }
  return out;
}

DeviceBuffer upload(const std::vector<float>& values) {
  DeviceBuffer buffer(values.size() * 4);
  buffer.upload(values.data(), values.size() * 4);
  return buffer;
}

void check_head(LabDmaKernels& kernels, std::int64_t length, std::int64_t head_dim, std::int64_t window,
                std::uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "L " << length << " d " << head_dim << " w " << window << " seed " << seed);
  testing::OwnedLabHead owned;
  testing::make_random_head(owned, length, head_dim, window, seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& x : owned.query) x = normal(rng) * 0.5f;  // real-valued scores; β keeps its few levels (ties)
  for (auto& x : owned.key) x = normal(rng) * 0.5f;
  owned.head.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const LabHead& head = owned.head;
  ASSERT_EQ(LabDmaKernels::unsupported_reason(head), "");
  const DeviceBuffer q = upload(owned.query), k = upload(owned.key), v = upload(owned.value), beta = upload(owned.beta);
  kernels.load(head, q.as<float>(), k.as<float>(), v.as<float>(), beta.as<float>());
  for (const Strategy strategy : {Strategy::Dma, Strategy::Shared, Strategy::Swa, Strategy::Sinks}) {
    SCOPED_TRACE(strategy_name(strategy));
    const std::vector<double> times = kernels.time(strategy, 1, 2);
    ASSERT_EQ(times.size(), 2u);
    for (double ms : times) EXPECT_TRUE(std::isfinite(ms) && ms > 0.0) << ms;
    const std::vector<std::int32_t> expected_death =
        strategy == Strategy::Dma      ? owned.dma_death
        : strategy == Strategy::Shared ? owned.shared_death
                                       : positional_death_indices(strategy, length, window);
    const std::vector<std::int32_t> death = kernels.death(strategy);
    // The device's deaths past L may be any value ≥ L: compare what they mean.
    for (std::int64_t j = 0; j < length; ++j)
      ASSERT_EQ(std::min<std::int64_t>(death[j], length), std::min<std::int64_t>(expected_death[j], length))
          << "key " << j;
    const std::vector<float> out = kernels.output(strategy);
    const std::vector<double> expected = reference_output(head, expected_death);
    double difference = 0.0, norm = 0.0;
    for (std::size_t n = 0; n < expected.size(); ++n) {
      ASSERT_TRUE(std::isfinite(out[n])) << "element " << n;
      difference += (out[n] - expected[n]) * (out[n] - expected[n]);
      norm += expected[n] * expected[n];
    }
    EXPECT_LE(std::sqrt(difference / norm), kOutputTolerance);
  }
}

TEST(GpuLabDmaKernels, DeathStrategiesRunOnTheDmaKernelsAsTheCpuDefinesThem) {
  SKIP_WITHOUT_GPU();
  const std::uint32_t seed = std::random_device{}();
  LabDmaKernels kernels;
  check_head(kernels, 200, 16, 32, seed);      // padded to 64; sinks and swa both bite
  check_head(kernels, 200, 16, 32, seed + 1);  // the same plan again: graphs reused on the new head's values
  check_head(kernels, 777, 64, 100, seed + 2);
  check_head(kernels, 3000, 128, 2048, seed + 3);  // Doge-20M's head dim and window
  check_head(kernels, 50, 32, 64, seed + 4);       // w ≥ L: every strategy keeps the whole causal prefix
}

TEST(GpuLabDmaKernels, RefusesWhatTheKernelsCannotRun) {
  testing::OwnedLabHead owned;
  testing::make_random_head(owned, 64, 160, 8, 1);
  EXPECT_NE(LabDmaKernels::unsupported_reason(owned.head).find("160"), std::string::npos);
  SKIP_WITHOUT_GPU();
  LabDmaKernels kernels;
  EXPECT_THROW(kernels.time(Strategy::Dma, 0, 1), Error);  // no head loaded
}

}  // namespace
}  // namespace dmascope::cuda
