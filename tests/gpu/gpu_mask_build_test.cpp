// The two GPU mask builds (chunked: one launch for L ≤ 64K, w ≤ 4096; sorted prefix statistics: any size) and the two
// gather-list kernels (chunked, scan), each against its CPU twin or the other, around the thresholds where the runner
// switches between them. Skipped where there is no GPU. Outputs are poisoned before every run.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/dma_mask.h"
#include "kernels/dma_cuda.h"
#include "tests/gpu/gpu_test_support.h"
#include "kernels/mask_build.cuh"

namespace dmascope::cuda {
namespace {

using test_support::random_beta;

using detail::MaskBuildMethod;

// death [segments, key_len] built on the GPU by `method` (the plan's own choice is checked by the caller).
std::vector<std::int32_t> gpu_death(const std::vector<float>& beta, int segments, int key_len, int window,
                                    MaskBuildMethod method) {
  detail::MaskBuildPlan plan =
      detail::make_mask_build_plan(segments, key_len, std::min(window, key_len), MaskVariant::PerRowTopK);
  if (plan.method != MaskBuildMethod::AllKept) plan.method = method;
  DeviceBuffer beta_device(beta.size() * 4), death_device(beta.size() * 4),
      workspace(detail::mask_build_workspace_bytes(plan));
  beta_device.upload(beta.data(), beta.size() * 4);
  death_device.fill_bytes(0xFF);  // poison: -1 everywhere
  detail::launch_mask_build(plan, beta_device.as<float>(), death_device.as<std::int32_t>(), workspace.get(), nullptr);
  if (cudaDeviceSynchronize() != cudaSuccess) ADD_FAILURE() << cudaGetErrorString(cudaGetLastError());
  std::vector<std::int32_t> death(beta.size());
  death_device.download(death.data(), death.size() * 4);
  return death;
}

std::vector<std::int32_t> cpu_death(const std::vector<float>& beta, int segments, int key_len, int window) {
  std::vector<std::int32_t> death;
  for (int s = 0; s < segments; ++s) {
    const auto one = dma_death_indices(std::span<const float>(beta.data() + std::size_t(s) * key_len, key_len), window);
    death.insert(death.end(), one.begin(), one.end());
  }
  return death;
}

struct ChunkedCase {
  int key_len, window, segments, distinct_values;
  bool chunked;  // the plan must pick the chunked build
};

void PrintTo(const ChunkedCase& c, std::ostream* os) {
  *os << "L" << c.key_len << "_w" << c.window << "_segments" << c.segments << "_distinct" << c.distinct_values;
}

class GpuChunkedMaskBuild : public ::testing::TestWithParam<ChunkedCase> {};

TEST_P(GpuChunkedMaskBuild, BothBuildsEqualTheCpuBitForBitAndThePlanPicksTheChunkedOneWhereItApplies) {
  SKIP_WITHOUT_GPU();
  const ChunkedCase c = GetParam();
  const auto plan = detail::make_mask_build_plan(c.segments, c.key_len, std::min(c.window, c.key_len),
                                                 MaskVariant::PerRowTopK);
  const MaskBuildMethod expected_method = c.window >= c.key_len ? MaskBuildMethod::AllKept
                                          : c.chunked            ? MaskBuildMethod::Chunked
                                                                 : MaskBuildMethod::SortedPrefixStatistics;
  EXPECT_EQ(plan.method, expected_method);
  std::mt19937 rng(static_cast<std::uint32_t>(c.key_len * 131 + c.window * 7 + c.distinct_values));
  for (int round = 0; round < 2; ++round) {  // fresh inputs each round
    const auto beta = random_beta(std::int64_t(c.segments) * c.key_len, rng, c.distinct_values);
    const auto expected = cpu_death(beta, c.segments, c.key_len, c.window);
    if (c.chunked) {
      ASSERT_EQ(gpu_death(beta, c.segments, c.key_len, c.window, MaskBuildMethod::Chunked), expected) << "chunked";
    }
    ASSERT_EQ(gpu_death(beta, c.segments, c.key_len, c.window, MaskBuildMethod::SortedPrefixStatistics), expected)
        << "sorted";
  }
}

// Small: chunk boundaries (1024 keys), a prefix of exactly w keys, w = 1, L < w, the two shared-memory layouts
// (w ≤ 1024 and ≤ 4096) and the window limit, ties, several segments. Sizes here stay small enough for the sanitizers.
INSTANTIATE_TEST_SUITE_P(
    Small, GpuChunkedMaskBuild,
    ::testing::Values(ChunkedCase{1025, 1024, 1, 0, true},   // second chunk: 1 key, prefix of exactly w keys
                      ChunkedCase{2049, 1024, 2, 0, true},   // third chunk selects from a prefix longer than w
                      ChunkedCase{3000, 1, 1, 0, true},      // w = 1
                      ChunkedCase{500, 1024, 2, 0, false},   // L < w: every key kept
                      ChunkedCase{1024, 1023, 1, 0, true},   // one chunk
                      ChunkedCase{5000, 1025, 1, 0, true},   // the larger layout
                      ChunkedCase{9000, 4096, 1, 0, true},   // the largest window
                      ChunkedCase{9000, 4097, 1, 0, false},  // one past it: the sorted build
                      ChunkedCase{6000, 700, 3, 1, true},    // every β equal
                      ChunkedCase{7001, 333, 2, 2, true},    // two values
                      ChunkedCase{8192, 2048, 2, 7, true},   // seven values, larger layout
                      ChunkedCase{4097, 64, 4, 0, true},     // four segments
                      ChunkedCase{9000, 100, 1, 1, true}),   // every β equal, more than 6144 collected: the fallback
    [](const auto& info) { return ::testing::PrintToString(info.param); });

INSTANTIATE_TEST_SUITE_P(Large, GpuChunkedMaskBuild,
                         ::testing::Values(ChunkedCase{32768, 1024, 2, 0, true},   // the shape
                                           ChunkedCase{65536, 1024, 1, 0, true},   // the largest chunked L
                                           ChunkedCase{65537, 1024, 1, 0, false},  // one past it
                                           ChunkedCase{65536, 4096, 1, 3, true},   // ties, largest window
                                           ChunkedCase{40000, 2500, 3, 0, true}),
                         [](const auto& info) { return ::testing::PrintToString(info.param); });

TEST(GpuChunkedMaskBuild, SpecialValuesRankAsOnTheCpu) {  // NaN first, −0 = +0, ±∞, negatives; all heavily tied
  SKIP_WITHOUT_GPU();
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), -0.0f, 0.0f,  std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), -1.5f, 2.0f, 1e-30f};
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pick(0, 7);
  for (const auto& [key_len, window] : {std::pair{3000, 100}, std::pair{5000, 1500}}) {
    std::vector<float> beta(static_cast<std::size_t>(key_len));
    for (auto& value : beta) value = specials[pick(rng)];
    const auto expected = cpu_death(beta, 1, key_len, window);
    EXPECT_EQ(gpu_death(beta, 1, key_len, window, MaskBuildMethod::Chunked), expected) << "chunked L" << key_len;
    EXPECT_EQ(gpu_death(beta, 1, key_len, window, MaskBuildMethod::SortedPrefixStatistics), expected)
        << "sorted L" << key_len;
  }
}

// β increasing with the index: every chunk key enters the kept set (the local problem is full, w + 1024 keys);
// decreasing: none does (it holds the w prefix keys alone).
TEST(GpuChunkedMaskBuild, MonotoneBetaFillsOrEmptiesTheLocalProblem) {
  SKIP_WITHOUT_GPU();
  for (const auto& [key_len, window] : {std::pair{5000, 1024}, std::pair{4500, 300}, std::pair{7000, 4096}})
    for (const bool increasing : {true, false}) {
      std::vector<float> beta(static_cast<std::size_t>(key_len));
      for (int j = 0; j < key_len; ++j) beta[j] = increasing ? 0.25f * j : -0.25f * j;
      EXPECT_EQ(gpu_death(beta, 1, key_len, window, MaskBuildMethod::Chunked), cpu_death(beta, 1, key_len, window))
          << "L" << key_len << " w" << window << (increasing ? " increasing" : " decreasing");
    }
}

// A prefix whose strided sample sees only its rare large values (every 64th key at L − 1024 = 32768 = 512 · 64): the
// pivot brackets too few keys and the CTA falls back to the radix select over the whole prefix.
TEST(GpuChunkedMaskBuild, PivotMissFallsBackToTheWholePrefixSelection) {
  SKIP_WITHOUT_GPU();
  const int key_len = 32768 + 1024, window = 1024;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> beta(static_cast<std::size_t>(key_len));
  for (int j = 0; j < key_len; ++j) beta[j] = j % 64 == 0 ? 2.0f : uniform(rng);
  EXPECT_EQ(gpu_death(beta, 1, key_len, window, MaskBuildMethod::Chunked), cpu_death(beta, 1, key_len, window));
}

// ------------------------------------------------------------------------------------------------------ gather lists

struct GatherCase {
  int key_len, q_len, window, segments, distinct_values;
};

void PrintTo(const GatherCase& c, std::ostream* os) {
  *os << "Lk" << c.key_len << "_Lq" << c.q_len << "_w" << c.window << "_segments" << c.segments << "_distinct"
      << c.distinct_values;
}

class GpuChunkedGatherLists : public ::testing::TestWithParam<GatherCase> {};

TEST_P(GpuChunkedGatherLists, EqualTheScanKernelsLists) {
  SKIP_WITHOUT_GPU();
  const GatherCase c = GetParam();
  std::mt19937 rng(static_cast<std::uint32_t>(c.key_len * 17 + c.q_len + c.window));
  const auto beta = random_beta(std::int64_t(c.segments) * c.key_len, rng, c.distinct_values);
  const auto death = cpu_death(beta, c.segments, c.key_len, c.window);
  const int q_tiles = (c.q_len + 63) / 64;
  const int capacity = std::min(c.key_len, c.window + 64);  // as the runner and the GPU forward size it
  DeviceBuffer death_device(death.size() * 4);
  death_device.upload(death.data(), death.size() * 4);
  const std::size_t list_entries = std::size_t(c.segments) * q_tiles * capacity;
  auto gather = [&](detail::GatherMethod method, std::vector<std::int32_t>& lists, std::vector<std::int32_t>& counts) {
    DeviceBuffer lists_device(list_entries * 4), counts_device(std::size_t(c.segments) * q_tiles * 4);
    lists_device.fill_bytes(0xFF);
    counts_device.fill_bytes(0xFF);
    detail::launch_gather_lists(death_device.as<std::int32_t>(), c.segments, c.q_len, c.key_len, q_tiles, capacity,
                                lists_device.as<std::int32_t>(), counts_device.as<std::int32_t>(), nullptr, method);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    lists.resize(list_entries);
    counts.resize(std::size_t(c.segments) * q_tiles);
    lists_device.download(lists.data(), lists.size() * 4);
    counts_device.download(counts.data(), counts.size() * 4);
  };
  std::vector<std::int32_t> scan_lists, scan_counts, chunked_lists, chunked_counts;
  gather(detail::GatherMethod::Scan, scan_lists, scan_counts);
  gather(detail::GatherMethod::Chunked, chunked_lists, chunked_counts);
  ASSERT_EQ(chunked_counts, scan_counts);
  for (int s = 0; s < c.segments; ++s)
    for (int t = 0; t < q_tiles; ++t) {
      const std::size_t tile = std::size_t(s) * q_tiles + t;
      ASSERT_LE(scan_counts[tile], capacity);
      const auto first = tile * capacity;
      ASSERT_TRUE(std::equal(scan_lists.begin() + first, scan_lists.begin() + first + scan_counts[tile],
                             chunked_lists.begin() + first))
          << "segment " << s << " tile " << t;
      // and the list is what the CPU mask says: every key some row of the tile keeps, ascending
      const int p0 = c.key_len - c.q_len + 64 * t, p_last = c.key_len - c.q_len + std::min(c.q_len, 64 * t + 64) - 1;
      std::vector<std::int32_t> expected;
      for (int j = 0; j <= p_last; ++j)
        if (death[std::size_t(s) * c.key_len + j] > std::max(j, p0)) expected.push_back(j);
      ASSERT_EQ(std::vector<std::int32_t>(chunked_lists.begin() + first,
                                          chunked_lists.begin() + first + chunked_counts[tile]),
                expected)
          << "segment " << s << " tile " << t;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Small, GpuChunkedGatherLists,
    ::testing::Values(GatherCase{4097, 4097, 1, 1, 0},      // w = 1
                      GatherCase{5000, 1237, 300, 2, 0},    // Lq < Lk, tiles not aligned to 64 keys, 2 segments
                      GatherCase{3000, 1, 100, 1, 0},       // one query row (decoding)
                      GatherCase{1000, 1000, 1000, 1, 0},   // w = L: capacity L (the GPU model forward's lists)
                      GatherCase{9000, 9000, 512, 2, 3}),   // ties
    [](const auto& info) { return ::testing::PrintToString(info.param); });

INSTANTIATE_TEST_SUITE_P(
    Large, GpuChunkedGatherLists,
    ::testing::Values(GatherCase{32768, 32768, 1024, 1, 0},  // the shape
                      GatherCase{20000, 20000, 4096, 1, 0},  // the largest capacity (w + 64 = 4160)
                      GatherCase{70000, 60001, 2048, 2, 0}), // beyond the chunked mask build's L
    [](const auto& info) { return ::testing::PrintToString(info.param); });

}  // namespace
}  // namespace dmascope::cuda
