// The mask lab on the GPU against its CPU twins, on fresh random inputs: the generic gather kernel
// (kernels/lab_gather.cuh) against core/lab/lab_gather.h, and the GPU metrics of every strategy
// (kernels/lab_metrics_cuda.h) against core/lab/lab_metrics.h's head_metrics, at small shapes and at Doge-20M's
// (d = 128, w = 2048). Skipped without a GPU. Outputs are poisoned with NaN before each run; NaN never passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/lab/dam.h"
#include "core/lab/kept_rows.h"
#include "core/lab/lab_gather.h"
#include "core/lab/lab_metrics.h"
#include "core/lab/strategy_death.h"
#include "kernels/dma_cuda.h"
#include "kernels/lab_gather.cuh"
#include "kernels/lab_metrics_cuda.h"
#include "tests/gpu/gpu_test_support.h"
#include "tests/lab_test_heads.h"

namespace dmascope::cuda {
namespace {

// Gather kernel vs its twin, max |gpu − cpu| / max |cpu| over the output: the same fp32 products; the GPU sums the
// dot products in the same order but the softmax in fp32 with expf and an online rescale, the CPU in fp64. Over at
// most a few thousand kept keys that is ~1e-6; 1e-5 leaves room and is far below a wrong key or row (O(1)).
constexpr double kGatherTolerance = 1e-5;
// Recall (a sum of ≤ L probabilities in [0, 1]): the GPU's softmax is fp32 with expf, reduced in a tree; the CPU's
// fp32 with std::exp, summed in fp64. Each probability is within a few ulp: 1e-5 absolute over ≤ 4K terms.
constexpr double kRecallTolerance = 1e-5;
// output_rel_error is a ratio of norms of differences: the CPU forms O_S by the complement formula or directly, the GPU
// directly (online softmax, fp32); both O_S agree to ~1e-6 of |O|, so the errors agree to that absolute amount plus
// a relative part for the norm's summation order.
constexpr double kErrorAbsoluteTolerance = 2e-5;
constexpr double kErrorRelativeTolerance = 1e-3;

struct GatherCase {
  std::int64_t length, head_dim, row_begin, rows;
  double keep_probability;
};

// One chunk of rows with random kept sets (some rows empty), its tiles' lists in the kernel's layout, and the twin.
void check_gather(const GatherCase& c, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  testing::OwnedLabHead owned;
  testing::make_random_head(owned, c.length, c.head_dim, 16, seed);
  for (auto& x : owned.query) x = normal(rng);  // real-valued: no selection depends on them here
  for (auto& x : owned.key) x = normal(rng);
  for (auto& x : owned.beta) x = normal(rng);
  owned.head.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const LabHead& head = owned.head;
  std::bernoulli_distribution keep(c.keep_probability), empty_row(0.05);
  const std::int64_t tiles = (c.rows + kLabGatherTileRows - 1) / kLabGatherTileRows;
  const std::int64_t key_stride = c.row_begin + c.rows, words = (key_stride + 31) / 32;
  std::vector<std::int32_t> tile_keys(static_cast<std::size_t>(tiles * key_stride), -1), tile_counts;
  std::vector<std::uint32_t> row_bits(static_cast<std::size_t>(c.rows * words), 0);
  std::vector<float> expected;
  for (std::int64_t t = 0; t < tiles; ++t) {
    KeptRows kept;
    kept.row_begin = c.row_begin + t * kLabGatherTileRows;
    const std::int64_t row_end = std::min(c.row_begin + c.rows, kept.row_begin + kLabGatherTileRows);
    for (std::int64_t i = kept.row_begin; i < row_end; ++i) {
      const bool empty = empty_row(rng);
      for (std::int64_t j = 0; j <= i; ++j)
        if (!empty && keep(rng)) kept.keys.push_back(static_cast<std::int32_t>(j));
      kept.offsets.push_back(static_cast<std::int64_t>(kept.keys.size()));
    }
    const TileGather gather = tile_gather(kept);
    std::copy(gather.keys.begin(), gather.keys.end(), tile_keys.begin() + t * key_stride);
    tile_counts.push_back(static_cast<std::int32_t>(gather.keys.size()));
    for (std::int64_t i = gather.row_begin; i < gather.row_end; ++i)
      for (std::int64_t s = 0; s < static_cast<std::int64_t>(gather.keys.size()); ++s)
        if (gather.keeps(i, s)) row_bits[static_cast<std::size_t>((i - c.row_begin) * words + s / 32)] |= 1u << (s % 32);
    const std::vector<float> twin = gather_attention(head, gather);
    expected.insert(expected.end(), twin.begin(), twin.end());
  }
  const auto upload = [](const auto& host) {
    DeviceBuffer buffer(host.size() * sizeof(host[0]));
    buffer.upload(host.data(), host.size() * sizeof(host[0]));
    return buffer;
  };
  const DeviceBuffer q = upload(owned.query), k = upload(owned.key), v = upload(owned.value), beta = upload(owned.beta);
  const DeviceBuffer keys = upload(tile_keys), counts = upload(tile_counts), bits = upload(row_bits);
  const std::vector<float> poison(expected.size(), std::numeric_limits<float>::quiet_NaN());
  DeviceBuffer out = upload(poison);
  GatherAttentionParams params;
  params.query = q.as<float>(), params.key = k.as<float>(), params.value = v.as<float>(), params.beta = beta.as<float>();
  params.scale = head.scale;
  params.head_dim = static_cast<int>(c.head_dim);
  params.row_begin = static_cast<int>(c.row_begin), params.rows = static_cast<int>(c.rows);
  params.tile_keys = keys.as<std::int32_t>(), params.tile_keys_stride = key_stride;
  params.tile_key_count = counts.as<std::int32_t>();
  params.row_bits = bits.as<std::uint32_t>(), params.row_bits_stride = words;
  params.out = out.as<float>();
  launch_gather_attention(params, nullptr);
  std::vector<float> got(expected.size());
  out.download(got.data(), got.size() * sizeof(float));
  double max_reference = 0.0, max_difference = 0.0;
  std::int64_t non_finite = 0;
  for (std::size_t e = 0; e < got.size(); ++e) {
    if (!std::isfinite(got[e])) {
      ++non_finite;
      continue;
    }
    max_reference = std::max(max_reference, std::abs(static_cast<double>(expected[e])));
    max_difference = std::max(max_difference, std::abs(static_cast<double>(got[e]) - expected[e]));
  }
  EXPECT_EQ(non_finite, 0) << "L " << c.length << " d " << c.head_dim;
  EXPECT_GT(max_reference, 0.0);
  EXPECT_LE(max_difference / max_reference, kGatherTolerance) << "L " << c.length << " d " << c.head_dim;
}

TEST(GpuLabGather, MatchesItsCpuTwinOnRandomKeptSets) {
  SKIP_WITHOUT_GPU();
  std::random_device fresh;
  const std::uint32_t seed = fresh();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  check_gather({.length = 150, .head_dim = 16, .row_begin = 0, .rows = 150, .keep_probability = 0.3}, seed);
  check_gather({.length = 300, .head_dim = 64, .row_begin = 100, .rows = 200, .keep_probability = 0.9}, seed + 1);
  // Doge-20M's head dimension, a chunk deep into a 4K sequence, sparse and dense kept sets.
  check_gather({.length = 4096, .head_dim = 128, .row_begin = 3000, .rows = 256, .keep_probability = 0.05}, seed + 2);
  check_gather({.length = 4096, .head_dim = 128, .row_begin = 3500, .rows = 100, .keep_probability = 0.7}, seed + 3);
  // Nine float4 columns over eight threads of a row: one thread holds two, the others one.
  check_gather({.length = 333, .head_dim = 36, .row_begin = 13, .rows = 300, .keep_probability = 0.5}, seed + 4);
  // The smallest head: one float4 column, seven of a row's eight threads idle.
  check_gather({.length = 90, .head_dim = 4, .row_begin = 0, .rows = 90, .keep_probability = 0.6}, seed + 5);
}

// A calibrated DAM mask with some matched patterns: sink column, diagonal, plus noise.
DamHeadMask random_dam(std::int64_t capture_length, std::mt19937& rng) {
  DamCalibration calibration(1, 1, capture_length);
  std::uniform_real_distribution<float> noise(0.0f, 0.02f);
  std::vector<float> map(static_cast<std::size_t>(capture_length * capture_length), 0.0f);
  for (std::int64_t i = 0; i < capture_length; ++i) {
    for (std::int64_t j = 0; j <= i; ++j) map[static_cast<std::size_t>(i * capture_length + j)] = noise(rng);
    map[static_cast<std::size_t>(i * capture_length)] += 0.4f;
    map[static_cast<std::size_t>(i * capture_length + i)] += 0.4f;
  }
  calibration.add_map(0, 0, map, capture_length);
  calibration.end_sequence(capture_length);
  return calibration.finish(DamSettings{.capture_length = capture_length})[0];
}

struct MetricsCase {
  std::int64_t length, head_dim, window, tile;
  bool dense_with_bias;
};

void check_metrics(LabMetricsCuda& gpu, const MetricsCase& c, std::uint32_t seed, bool poison_nan) {
  SCOPED_TRACE(::testing::Message() << "L " << c.length << " d " << c.head_dim << " w " << c.window << " tile "
                                    << c.tile << " with β " << c.dense_with_bias << " NaN " << poison_nan);
  testing::OwnedLabHead owned;
  testing::make_random_head(owned, c.length, c.head_dim, c.window, seed);
  std::mt19937 rng(seed);
  if (poison_nan) owned.query[static_cast<std::size_t>((c.length / 2) * c.head_dim)] = std::nanf("");
  const DamHeadMask dam = random_dam(std::min<std::int64_t>(64, c.length), rng);
  owned.head.dam = &dam;
  LabMetricOptions options;
  options.dense_with_bias = c.dense_with_bias;
  options.tiles = {c.tile, c.tile};
  const std::vector<Strategy> strategies(kAllStrategies.begin(), kAllStrategies.end());
  const auto expected = head_metrics(owned.head, strategies, options);
  const auto got = gpu.head_metrics(owned.head, strategies, options);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t s = 0; s < got.size(); ++s) {
    const StrategyMetrics &g = got[s], &e = expected[s];
    SCOPED_TRACE(::testing::Message() << "strategy " << strategy_name(e.strategy));
    EXPECT_EQ(g.strategy, e.strategy);
    EXPECT_EQ(g.non_finite, e.non_finite);
    EXPECT_TRUE(std::isfinite(g.gpu_ms) && g.gpu_ms > 0.0) << g.gpu_ms;
    EXPECT_EQ(g.gpu_kernel, strategy_has_death_indices(g.strategy) && c.head_dim <= 128 ? "dma" : "gather");
    // The kept sets are the same sets: the inputs are on a grid where every score is exact, so ties are exact too.
    EXPECT_EQ(g.kept_entries, e.kept_entries);
    EXPECT_EQ(g.causal_entries, e.causal_entries);
    EXPECT_EQ(g.active_tiles, e.active_tiles);
    EXPECT_EQ(g.causal_tiles, e.causal_tiles);
    EXPECT_EQ(g.empty_rows, e.empty_rows);
    EXPECT_EQ(g.token_density, e.token_density);
    EXPECT_EQ(g.tile_density, e.tile_density);
    if (poison_nan) {
      EXPECT_TRUE(g.non_finite);
      EXPECT_TRUE(std::isnan(g.mass_recall_mean) && std::isnan(g.output_rel_error));
      continue;
    }
    ASSERT_FALSE(g.non_finite);
    ASSERT_TRUE(std::isfinite(g.mass_recall_mean) && std::isfinite(g.mass_recall_min) &&
                std::isfinite(g.output_rel_error));
    EXPECT_NEAR(g.mass_recall_mean, e.mass_recall_mean, kRecallTolerance);
    EXPECT_NEAR(g.mass_recall_min, e.mass_recall_min, kRecallTolerance);
    ASSERT_EQ(g.mass_recall_by_band.size(), e.mass_recall_by_band.size());
    for (std::size_t b = 0; b < g.mass_recall_by_band.size(); ++b)
      EXPECT_NEAR(g.mass_recall_by_band[b], e.mass_recall_by_band[b], kRecallTolerance) << "band " << b;
    EXPECT_NEAR(g.output_rel_error, e.output_rel_error,
                kErrorAbsoluteTolerance + kErrorRelativeTolerance * e.output_rel_error);
  }
}

TEST(GpuLabMetrics, EveryStrategyMatchesTheCpuMetrics) {
  SKIP_WITHOUT_GPU();
  std::random_device fresh;
  const std::uint32_t seed = fresh();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  LabMetricsCuda gpu;
  // Windows whose nsa block (min(64, w)) is a power of two: the block means stay exact, so no order of summation can
  // split a tie between two blocks differently on the two sides.
  check_metrics(gpu, {.length = 200, .head_dim = 16, .window = 32, .tile = 64, .dense_with_bias = true}, seed, false);
  check_metrics(gpu, {.length = 333, .head_dim = 32, .window = 70, .tile = 48, .dense_with_bias = false}, seed + 1,
                false);
  check_metrics(gpu, {.length = 1500, .head_dim = 64, .window = 130, .tile = 64, .dense_with_bias = true}, seed + 2,
                false);
  // Doge-20M's shape: d = 128, w = 2048, several chunks of rows.
  check_metrics(gpu, {.length = 4100, .head_dim = 128, .window = 2048, .tile = 64, .dense_with_bias = true}, seed + 3,
                false);
  check_metrics(gpu, {.length = 3000, .head_dim = 128, .window = 256, .tile = 128, .dense_with_bias = true}, seed + 4,
                false);
}

TEST(GpuLabMetrics, ANanInTheInputsIsReportedNotHidden) {
  SKIP_WITHOUT_GPU();
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  LabMetricsCuda gpu;
  check_metrics(gpu, {.length = 300, .head_dim = 16, .window = 32, .tile = 64, .dense_with_bias = true}, seed, true);
}

}  // namespace
}  // namespace dmascope::cuda
