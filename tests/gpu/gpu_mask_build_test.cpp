// The two GPU mask builds (chunked: one launch for L ≤ 64K, w ≤ 4096; sorted prefix statistics: any size) and the two
// gather-list kernels (chunked, scan), each against its CPU twin or the other, around the thresholds where the runner
// switches between them. Skipped where there is no GPU. Outputs are poisoned before every run.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "core/formats/tensor.h"
#include "core/mask/dma_mask.h"
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
                         ::testing::Values(ChunkedCase{32768, 1024, 2, 0, true},   // the target shape
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

// The order by bins of the rank keys' top bits, and the cut at T's bin (the collection holds far more than w prefix
// keys late in these sequences): bf16-valued β (ties inside a bin, ordered by index; T's bin holds keys ranked after
// it), small integers (the range needs fewer bits than a bin index: one value per bin, 20–60 entries each), and a few
// huge and tiny β stretching the range so that one bin holds most keys (the cut and the LSD sort instead).
TEST(GpuChunkedMaskBuild, BinOrderAndCutKeepWhatTheCpuKeeps) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> small_integer(0, 1500);
  for (int kind = 0; kind < 3; ++kind)
    for (const auto& [key_len, window] : {std::pair{32768, 1024}, std::pair{20000, 300}, std::pair{60000, 4096}}) {
      std::vector<float> beta(static_cast<std::size_t>(key_len));
      for (int j = 0; j < key_len; ++j) {
        if (kind == 0) beta[j] = round_to_bf16(std::exp(normal(rng)));
        if (kind == 1) beta[j] = static_cast<float>(small_integer(rng));
        if (kind == 2) beta[j] = j % 997 == 0 ? 1e30f : j % 991 == 0 ? 1e-30f : std::exp(0.1f * normal(rng));
      }
      EXPECT_EQ(gpu_death(beta, 1, key_len, window, MaskBuildMethod::Chunked), cpu_death(beta, 1, key_len, window))
          << "L" << key_len << " w" << window << " kind " << kind;
    }
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

// ------------------------------------------------------------------------- gather lists written by the mask build

struct FusedCase {
  int key_len, q_len, window, segments, distinct_values;
  int order = 0;  // 0: random β (distinct_values as random_beta), 1: increasing, −1: decreasing with the index
};

void PrintTo(const FusedCase& c, std::ostream* os) {
  *os << "Lk" << c.key_len << "_Lq" << c.q_len << "_w" << c.window << "_segments" << c.segments << "_distinct"
      << c.distinct_values << (c.order > 0 ? "_increasing" : c.order < 0 ? "_decreasing" : "");
}

class GpuMaskBuildLists : public ::testing::TestWithParam<FusedCase> {};

// The chunked build's chunk keys, from which the wgmma forward builds each tile's list: death still equal to the CPU
// bit for bit; per chunk of 1024 rows, ascending keys, each with its death row in the chunk (or "after it") as the CPU
// has it, holding every key kept on some row of the chunk; and, filtered as the forward filters them (kept on some
// row of a tile: born ≤ last and death > max(born, first); on every row: born ≤ first and death > last), exactly
// each query tile's keys of the CPU mask. Outputs poisoned before the launch.
TEST_P(GpuMaskBuildLists, ChunkKeysHoldEveryTilesKeysAndDeathEqualsTheCpu) {
  SKIP_WITHOUT_GPU();
  const FusedCase c = GetParam();
  std::mt19937 rng(static_cast<std::uint32_t>(c.key_len * 29 + c.q_len * 3 + c.window));
  std::vector<float> beta = random_beta(std::int64_t(c.segments) * c.key_len, rng, c.distinct_values);
  if (c.order != 0)
    for (std::size_t i = 0; i < beta.size(); ++i) beta[i] = 0.25f * c.order * static_cast<float>(i % c.key_len);
  beta[beta.size() / 2] = 3.0e38f;  // β · log2 e overflows: its log2-unit value must cap at FLT_MAX (below)
  const auto expected_death = cpu_death(beta, c.segments, c.key_len, c.window);
  const auto plan = detail::make_mask_build_plan(c.segments, c.key_len, std::min(c.window, c.key_len),
                                                 MaskVariant::PerRowTopK);
  ASSERT_EQ(plan.method, MaskBuildMethod::Chunked);
  const int capacity = detail::chunk_keys_capacity(plan);
  ASSERT_GE(capacity, std::min(c.key_len, c.window + kChunkRows));
  const int chunks = (c.key_len + kChunkRows - 1) / kChunkRows;
  const std::size_t slots = std::size_t(c.segments) * chunks;
  DeviceBuffer beta_device(beta.size() * 4), death_device(beta.size() * 4), keys_device(slots * capacity * 4),
      counts_device(slots * 4), beta_log2_device(beta.size() * 4);
  beta_device.upload(beta.data(), beta.size() * 4);
  for (DeviceBuffer* poisoned : {&death_device, &keys_device, &counts_device, &beta_log2_device})
    poisoned->fill_bytes(0xFF);
  detail::ChunkKeysOutput output;
  output.keys = keys_device.as<std::uint32_t>();
  output.counts = counts_device.as<std::int32_t>();
  output.capacity = capacity;
  output.beta_log2 = beta_log2_device.as<float>();
  ASSERT_TRUE(detail::launch_mask_build(plan, beta_device.as<float>(), death_device.as<std::int32_t>(), nullptr,
                                        nullptr, &output));
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<std::int32_t> death(beta.size()), counts(slots);
  std::vector<std::uint32_t> keys(slots * capacity);
  death_device.download(death.data(), death.size() * 4);
  ASSERT_EQ(death, expected_death);
  // β in the forward's log2 units for every key, bit for bit: one fp32 multiply by log2 e, capped at FLT_MAX.
  std::vector<float> beta_log2(beta.size());
  beta_log2_device.download(beta_log2.data(), beta_log2.size() * 4);
  for (std::size_t i = 0; i < beta.size(); ++i) {
    const float expected = std::fmin(beta[i] * 1.4426950408889634f, std::numeric_limits<float>::max());
    ASSERT_EQ(std::bit_cast<std::uint32_t>(beta_log2[i]), std::bit_cast<std::uint32_t>(expected))
        << "key " << i << " (β " << beta[i] << ")";
  }
  keys_device.download(keys.data(), keys.size() * 4);
  counts_device.download(counts.data(), counts.size() * 4);
  const int offset = c.key_len - c.q_len;
  for (int s = 0; s < c.segments; ++s)
    for (int chunk = 0; chunk < chunks; ++chunk) {
      const std::size_t slot = std::size_t(s) * chunks + chunk;
      const int chunk_first = chunk * kChunkRows, chunk_end = std::min(c.key_len, chunk_first + kChunkRows);
      ASSERT_GE(counts[slot], 0);
      ASSERT_LE(counts[slot], capacity);
      std::vector<int> entry_key, entry_dies;  // dies: death row − chunk_first, or 0xFFFF
      for (int e = 0; e < counts[slot]; ++e) {
        const std::uint32_t entry = keys[slot * capacity + e];
        entry_key.push_back(static_cast<int>(entry >> 16));
        entry_dies.push_back(static_cast<int>(entry & 0xFFFFu));
        const int key = entry_key.back();
        ASSERT_LT(key, chunk_end);
        if (e > 0) ASSERT_LT(entry_key[e - 1], key) << "chunk " << chunk << ": keys ascend";
        const int dies = expected_death[std::size_t(s) * c.key_len + key];
        if (dies >= chunk_end) ASSERT_EQ(entry_dies.back(), 0xFFFF) << "chunk " << chunk << " key " << key;
        else ASSERT_EQ(chunk_first + entry_dies.back(), dies) << "chunk " << chunk << " key " << key;
      }
      for (int j = 0; j < chunk_end; ++j)  // every key kept on a row of the chunk is there
        if (expected_death[std::size_t(s) * c.key_len + j] > std::max(j, chunk_first))
          ASSERT_TRUE(std::binary_search(entry_key.begin(), entry_key.end(), j)) << "chunk " << chunk << " key " << j;
      if (offset % 64 != 0) continue;  // tiles straddle chunks: the runner gathers lists instead
      for (int p0 = std::max(chunk_first, offset); p0 < chunk_end; p0 += 64) {  // the forward's filter, per tile
        const int p_last = std::min(p0 + 63, c.key_len - 1), first = p0 - chunk_first, last = p_last - chunk_first;
        std::vector<std::int32_t> filtered, expected;
        for (std::size_t e = 0; e < entry_key.size(); ++e) {
          const int born = entry_key[e] - chunk_first;
          if (born <= last && entry_dies[e] > std::max(born, first)) filtered.push_back(entry_key[e]);
        }
        for (int j = 0; j <= p_last; ++j)
          if (expected_death[std::size_t(s) * c.key_len + j] > std::max(j, p0)) expected.push_back(j);
        ASSERT_EQ(filtered, expected) << "segment " << s << " tile at row " << p0;
        ASSERT_LE(static_cast<int>(expected.size()), std::min(c.key_len, c.window + 64));
      }
    }
}

// Chunk and tile edges (L not a multiple of 64 or 1024, one partial last tile), Lq < Lk with the rows before the first
// query covering whole and part chunks, both shared-memory layouts (w ≤ 1024, ≤ 4096), ties, several segments, a
// local problem filled or left with the prefix alone (monotone β), the fallback selection (every β equal), and an
// offset that is not a multiple of 64.
INSTANTIATE_TEST_SUITE_P(
    Small, GpuMaskBuildLists,
    ::testing::Values(FusedCase{3000, 3000, 100, 1, 0},       // L % 64 ≠ 0: a partial last tile
                      FusedCase{5000, 5000, 1024, 2, 0},      // prefix of exactly w keys at the second chunk
                      FusedCase{5000, 1800, 300, 1, 0},       // Lq < Lk, offset 3200 (chunk 3 starts mid-way)
                      FusedCase{4160, 64, 1, 1, 0},           // w = 1, one query tile at the end
                      FusedCase{9000, 9000, 4096, 1, 0},      // the larger layout, the largest capacity
                      FusedCase{7001, 7001, 333, 2, 2},       // ties: two values, two segments
                      FusedCase{6000, 6000, 700, 3, 1},       // every β equal
                      FusedCase{9000, 9000, 100, 1, 1},       // equal β past 6144 collected: the fallback
                      FusedCase{5000, 5000, 1024, 1, 0, 1},   // increasing: every chunk key enters
                      FusedCase{5000, 5000, 300, 1, 0, -1},   // decreasing: none does
                      FusedCase{5000, 1237, 300, 2, 0}),      // offset 3763: tiles straddle chunks
    [](const auto& info) { return ::testing::PrintToString(info.param); });

INSTANTIATE_TEST_SUITE_P(Large, GpuMaskBuildLists,
                         ::testing::Values(FusedCase{32768, 32768, 1024, 1, 0},  // the target shape
                                           FusedCase{32768, 32768, 2048, 2, 0},
                                           FusedCase{65536, 40960, 4096, 1, 3}),  // ties, largest L and window
                         [](const auto& info) { return ::testing::PrintToString(info.param); });

INSTANTIATE_TEST_SUITE_P(
    Large, GpuChunkedGatherLists,
    ::testing::Values(GatherCase{32768, 32768, 1024, 1, 0},  // the target shape
                      GatherCase{20000, 20000, 4096, 1, 0},  // the largest capacity (w + 64 = 4160)
                      GatherCase{70000, 60001, 2048, 2, 0}), // beyond the chunked mask build's L
    [](const auto& info) { return ::testing::PrintToString(info.param); });

}  // namespace
}  // namespace dmascope::cuda
