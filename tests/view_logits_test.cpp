// The logits view's reduction (core/view/view_reduce.h, reduce_logits_to_grid) against a brute force that builds the whole
// L×L logit matrix in double from the same q, k, β and the expanded mask: exact mode on every pixel, sampled mode
// against an independent re-enumeration of the documented stride rule, and the cost bound at 32K tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>

#include "core/mask/dma_mask.h"
#include "core/base/error.h"
#include "core/view/view_reduce.h"

namespace dmascope {
namespace {

// Element-wise |got − want| ≤ abs + rel·|want|: the grid sums d products in float (8 partial sums), the brute force
// in double; with d ≤ 64 and |q·k·scale| ≲ 10 the float rounding stays far below 1e-4 absolute.
constexpr double kLogitAbsTolerance = 1e-4, kLogitRelTolerance = 1e-5;

bool close(double got, double want) {
  return std::isfinite(got) && std::abs(got - want) <= kLogitAbsTolerance + kLogitRelTolerance * std::abs(want);
}

struct Inputs {
  std::int64_t length = 0, head_dim = 0;
  std::vector<float> q, k, beta;
  std::vector<std::int32_t> death;
  LogitSource source() const {
    return {q, k, beta, death, head_dim, 1.0f / std::sqrt(static_cast<float>(head_dim))};
  }
};

Inputs random_inputs(std::int64_t L, std::int64_t d, std::int64_t window, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::lognormal_distribution<float> lognormal(0.0f, 1.0f);
  Inputs in;
  in.length = L;
  in.head_dim = d;
  in.q.resize(static_cast<std::size_t>(L * d));
  in.k.resize(static_cast<std::size_t>(L * d));
  in.beta.resize(static_cast<std::size_t>(L));
  for (auto& x : in.q) x = normal(rng);
  for (auto& x : in.k) x = normal(rng);
  for (auto& x : in.beta) x = lognormal(rng);
  in.death = dma_death_indices(in.beta, window);
  return in;
}

// The whole matrix in double: NaN where not kept.
std::vector<double> brute_force_logits(const Inputs& in) {
  const std::int64_t L = in.length, d = in.head_dim;
  const auto keep = dma_expand_keep(in.death, L);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  std::vector<double> logits(static_cast<std::size_t>(L * L), std::numeric_limits<double>::quiet_NaN());
  for (std::int64_t i = 0; i < L; ++i)
    for (std::int64_t j = 0; j <= i; ++j) {
      if (!keep[i * L + j]) continue;
      double sum = 0.0;
      for (std::int64_t c = 0; c < d; ++c) sum += static_cast<double>(in.q[i * d + c]) * in.k[j * d + c];
      logits[i * L + j] = sum * scale + in.beta[j];
    }
  return logits;
}

struct Expected {
  LogitPixel coverage = LogitPixel::NoCausalCell;
  double value = 0.0;
};

// `samples` = 0: every kept entry of the pixel; else the stride rule: the kept entries listed key by key (rows
// ascending within a key), entry ⌊(s + ½)·K/samples⌋ for s < samples when K > samples.
Expected brute_force_pixel(const std::vector<double>& logits, std::int64_t L, const CellRange& rows,
                           const CellRange& cols, ReduceMode mode, std::int64_t samples) {
  Expected e;
  std::vector<double> kept;
  for (std::int64_t j = cols.begin; j < cols.end; ++j)
    for (std::int64_t i = rows.begin; i < rows.end; ++i) {
      if (j > i) continue;
      if (e.coverage == LogitPixel::NoCausalCell) e.coverage = LogitPixel::AllMasked;
      if (!std::isnan(logits[i * L + j])) kept.push_back(logits[i * L + j]);
    }
  if (kept.empty()) return e;
  e.coverage = LogitPixel::Value;
  std::vector<double> used;
  const auto K = static_cast<std::int64_t>(kept.size());
  if (samples == 0 || K <= samples) {
    used = kept;
  } else {
    for (std::int64_t s = 0; s < samples; ++s)
      used.push_back(kept[static_cast<std::size_t>((static_cast<double>(s) + 0.5) * K / samples)]);
  }
  double sum = 0.0, largest = -std::numeric_limits<double>::infinity();
  for (double v : used) {
    sum += v;
    largest = std::max(largest, v);
  }
  e.value = mode == ReduceMode::Max ? largest : sum / static_cast<double>(used.size());
  return e;
}

void expect_grid_matches(const Inputs& in, const MatrixWindow& window, std::int64_t width, std::int64_t height,
                         ReduceMode mode, const LogitGridOptions& options, std::int64_t brute_samples) {
  const auto logits = brute_force_logits(in);
  const LogitGrid grid = reduce_logits_to_grid(in.source(), window, width, height, mode, options);
  ASSERT_EQ(grid.values.size(), static_cast<std::size_t>(width * height));
  ASSERT_FALSE(grid.cancelled);
  int values_seen = 0, masked_seen = 0;
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      const CellRange rows = cells_of_pixel(window.row_begin, window.row_end, height, y, in.length);
      const CellRange cols = cells_of_pixel(window.col_begin, window.col_end, width, x, in.length);
      const Expected e = brute_force_pixel(logits, in.length, rows, cols, mode, brute_samples);
      const std::size_t p = static_cast<std::size_t>(y * width + x);
      ASSERT_EQ(grid.coverage[p], e.coverage) << "pixel " << x << "," << y;
      if (e.coverage != LogitPixel::Value) {
        masked_seen += e.coverage == LogitPixel::AllMasked;
        continue;
      }
      ++values_seen;
      ASSERT_TRUE(close(grid.values[p], e.value))
          << "pixel " << x << "," << y << " (" << reduce_mode_name(mode) << "): got " << grid.values[p] << ", want "
          << e.value;
      ASSERT_GE(grid.values[p], grid.low);
      ASSERT_LE(grid.values[p], grid.high);
    }
  EXPECT_GT(values_seen, 0);
}

struct LogitCase {
  std::int64_t length, head_dim, window, width, height;
  double zoom, center_row, center_col;
};

void PrintTo(const LogitCase& c, std::ostream* os) {
  *os << "L" << c.length << " d" << c.head_dim << " w" << c.window << " grid" << c.width << "x" << c.height << " zoom"
      << c.zoom;
}

// The case's zoom and centre on a view of `width` pixels (the zoom limit depends on it), checked to have applied.
MatrixWindow view_of(const LogitCase& c) {
  const MatrixWindow window =
      visible_window(clamp_zoom_pan({c.zoom, c.center_row, c.center_col}, c.length, static_cast<double>(c.width)),
                     c.length);
  EXPECT_NEAR(window.cols(), static_cast<double>(c.length) / c.zoom, 1e-9) << "the case's zoom was clamped";
  return window;
}

class LogitReductionMatchesBruteForce : public ::testing::TestWithParam<LogitCase> {};

TEST_P(LogitReductionMatchesBruteForce, ExactModeOnEveryPixel) {
  const LogitCase c = GetParam();
  for (std::uint32_t seed = 0; seed < 2; ++seed) {
    const Inputs in = random_inputs(c.length, c.head_dim, c.window, seed);
    const MatrixWindow window = view_of(c);
    for (ReduceMode mode : {ReduceMode::Mean, ReduceMode::Max}) {
      const LogitGrid grid = reduce_logits_to_grid(in.source(), window, c.width, c.height, mode);
      EXPECT_FALSE(grid.sampled);
      expect_grid_matches(in, window, c.width, c.height, mode, {}, 0);
    }
  }
}

TEST_P(LogitReductionMatchesBruteForce, SampledModeFollowsTheStrideRule) {
  const LogitCase c = GetParam();
  const Inputs in = random_inputs(c.length, c.head_dim, c.window, 5);
  const MatrixWindow window = view_of(c);
  LogitGridOptions options;
  options.exact_max_entries = 0;  // force sampling
  for (std::int64_t samples : {1, 3, 7}) {
    options.samples_per_pixel = samples;
    for (ReduceMode mode : {ReduceMode::Mean, ReduceMode::Max})
      expect_grid_matches(in, window, c.width, c.height, mode, options, samples);
  }
}

INSTANTIATE_TEST_SUITE_P(Views, LogitReductionMatchesBruteForce,
                         ::testing::Values(LogitCase{1, 4, 1, 1, 1, 1, 0.5, 0.5},
                                           LogitCase{33, 8, 8, 33, 33, 1, 0, 0},     // one pixel per cell
                                           LogitCase{33, 16, 8, 7, 5, 1, 0, 0},      // many cells per pixel
                                           LogitCase{100, 12, 17, 64, 48, 1, 0, 0},  // d not a multiple of 8
                                           LogitCase{100, 32, 17, 300, 300, 1, 0, 0},  // zoomed in: 3 px per cell
                                           LogitCase{100, 8, 17, 40, 40, 3.7, 61.3, 20.9},
                                           LogitCase{257, 64, 64, 90, 70, 2.0, 200, 100},
                                           LogitCase{257, 16, 300, 50, 50, 1, 0, 0}));  // w ≥ L: all kept

TEST(ViewLogits, SingleLogitIsQDotKScaledPlusBeta) {
  const Inputs in = random_inputs(20, 12, 4, 3);
  const auto logits = brute_force_logits(in);
  for (std::int64_t i = 0; i < in.length; ++i)
    for (std::int64_t j = 0; j <= i; ++j)
      if (!std::isnan(logits[i * in.length + j])) {
        EXPECT_TRUE(close(dma_logit(in.source(), i, j), logits[i * in.length + j])) << i << "," << j;
      }
  EXPECT_THROW(dma_logit(in.source(), 20, 0), Error);
}

TEST(ViewLogits, MismatchedCapturesAreRefusedNamingWhatIsWrong) {
  Inputs in = random_inputs(10, 4, 3, 1);
  in.q.pop_back();
  try {
    reduce_logits_to_grid(in.source(), visible_window(whole_matrix(10), 10), 4, 4, ReduceMode::Mean);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("q has 39"), std::string::npos) << error.what();
  }
}

TEST(ViewLogits, ACancelledReductionStopsAndSaysSo) {
  const Inputs in = random_inputs(64, 8, 8, 2);
  std::atomic<bool> cancel{true};
  LogitGridOptions options;
  options.cancel = &cancel;
  const LogitGrid grid = reduce_logits_to_grid(in.source(), visible_window(whole_matrix(64), 64), 16, 16,
                                               ReduceMode::Mean, options);
  EXPECT_TRUE(grid.cancelled);
}

// 32K tokens, w = 2048, d = 64, the whole matrix on 512² pixels: 67 M kept entries, far past the exact limit, so each
// pixel computes at most 64 of its entries: the cost is bounded by pixels · samples, not by the entries.
TEST(ViewLogits, ZoomedOutOn32KTokensTheReductionSamplesAndStaysBounded) {
  const std::int64_t L = 32768, d = 64, width = 512, height = 512;
  const Inputs in = random_inputs(L, d, 2048, 11);
  const MatrixWindow window = visible_window(whole_matrix(L), L);
  const auto start = std::chrono::steady_clock::now();
  const LogitGrid grid = reduce_logits_to_grid(in.source(), window, width, height, ReduceMode::Mean);
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(grid.sampled);
  EXPECT_GT(grid.kept_entries, kLogitExactMaxEntries);
  EXPECT_LE(grid.computed_entries, width * height * kLogitSamplesPerPixel);
  EXPECT_LT(elapsed_ms, 5000.0);
  std::printf("[ info     ] 32K tokens, 512² px, d 64: %lld kept entries, %lld computed, %.0f ms\n",
              static_cast<long long>(grid.kept_entries), static_cast<long long>(grid.computed_entries), elapsed_ms);
  // Spot-check a few pixels against the stride rule on the entries computed directly (64 tokens per pixel).
  for (auto [x, y] : {std::pair{0, 0}, {3, 100}, {255, 256}, {511, 511}}) {
    const CellRange rows{y * 64, (y + 1) * 64}, cols{x * 64, (x + 1) * 64};
    std::vector<double> kept;
    for (std::int64_t j = cols.begin; j < cols.end; ++j)
      for (std::int64_t i = std::max(j, rows.begin); i < std::min<std::int64_t>(in.death[j], rows.end); ++i) {
        double sum = 0.0;
        for (std::int64_t c = 0; c < d; ++c) sum += static_cast<double>(in.q[i * d + c]) * in.k[j * d + c];
        kept.push_back(sum / std::sqrt(static_cast<double>(d)) + in.beta[j]);
      }
    const std::size_t p = static_cast<std::size_t>(y * width + x);
    if (kept.empty()) {
      EXPECT_NE(grid.coverage[p], LogitPixel::Value) << x << "," << y;
      continue;
    }
    const auto K = static_cast<std::int64_t>(kept.size());
    const std::int64_t used = std::min<std::int64_t>(K, kLogitSamplesPerPixel);
    double sum = 0.0;
    for (std::int64_t s = 0; s < used; ++s)
      sum += K <= kLogitSamplesPerPixel ? kept[s] : kept[static_cast<std::size_t>((s + 0.5) * K / kLogitSamplesPerPixel)];
    EXPECT_TRUE(close(grid.values[p], sum / used)) << x << "," << y << ": " << grid.values[p] << " vs " << sum / used;
  }
}

}  // namespace
}  // namespace dmascope

namespace dmascope {
namespace {

// The probabilities view against the dense reference attention: its [L, L] probabilities (attention_reference, in
// double) over the same q, k, β and mask. One pixel per cell, then a zoomed-out mean and max checked pixel by pixel
// against the dense matrix reduced the same way (reduce_matrix_to_grid counts masked cells as 0; the view's mean is
// over kept entries only, so the check recomputes that mean from the dense values).
TEST(ViewProbabilities, RowLogSumExpMakesTheDenseSoftmaxOfTheKeptKeys) {
  for (const auto& [L, d, w, seed] : {std::tuple{1, 4, 1, 1u}, std::tuple{37, 8, 5, 2u}, std::tuple{200, 16, 24, 3u},
                                      std::tuple{150, 8, 400, 4u}}) {
    SCOPED_TRACE(testing::Message() << "L " << L << " d " << d << " w " << w);
    const Inputs in = random_inputs(L, d, w, seed);
    AttentionProblem problem;
    problem.q_len = problem.key_len = L;
    problem.head_dim = d;
    problem.scale = 1.0f / std::sqrt(static_cast<float>(d));
    problem.q = in.q.data();
    problem.k = in.k.data();
    problem.v = in.k.data();  // any values: only the probabilities are read
    problem.beta = in.beta.data();
    problem.death = in.death.data();
    std::vector<float> out(static_cast<std::size_t>(L * d)), dense(static_cast<std::size_t>(L * L));
    attention_reference(problem, out.data(), dense.data(), true);

    const std::vector<float> lse = row_log_sum_exp(in.source(), {0, L});
    ASSERT_EQ(lse.size(), static_cast<std::size_t>(L));
    LogitSource source = in.source();
    source.row_lse = lse;
    const MatrixWindow whole = visible_window(whole_matrix(L), L);
    const LogitGrid grid = reduce_logits_to_grid(source, whole, L, L, ReduceMode::Mean);
    ASSERT_FALSE(grid.sampled);
    for (std::int64_t i = 0; i < L; ++i)
      for (std::int64_t j = 0; j <= i; ++j) {
        const auto p = static_cast<std::size_t>(i * L + j);
        if (!dma_keeps(in.death, i, j)) {
          ASSERT_EQ(grid.coverage[p], LogitPixel::AllMasked) << i << "," << j;
          continue;
        }
        ASSERT_EQ(grid.coverage[p], LogitPixel::Value) << i << "," << j;
        ASSERT_NEAR(grid.values[p], dense[p], 1e-5 + 1e-4 * dense[p]) << i << "," << j;
        ASSERT_NEAR(dma_probability(source, i, j), dense[p], 1e-5 + 1e-4 * dense[p]) << i << "," << j;
      }

    // Zoomed out on a window, with the log-sum-exp of the view's rows only.
    const std::int64_t pixels = std::max<std::int64_t>(1, L / 7);
    const MatrixWindow window = visible_window(clamp_zoom_pan({1.6, L * 0.6, L * 0.35}, L, pixels), L);
    const CellRange rows = rows_in_view(window, pixels, L);
    const std::vector<float> view_lse = row_log_sum_exp(in.source(), rows);
    LogitSource view_source = in.source();
    view_source.row_lse = view_lse;
    view_source.lse_first_row = rows.begin;
    for (const ReduceMode mode : {ReduceMode::Mean, ReduceMode::Max}) {
      const LogitGrid zoomed = reduce_logits_to_grid(view_source, window, pixels, pixels, mode);
      for (std::int64_t y = 0; y < pixels; ++y)
        for (std::int64_t x = 0; x < pixels; ++x) {
          const CellRange r = cells_of_pixel(window.row_begin, window.row_end, pixels, y, L);
          const CellRange c = cells_of_pixel(window.col_begin, window.col_end, pixels, x, L);
          double sum = 0.0, largest = 0.0;
          std::int64_t kept = 0;
          for (std::int64_t i = r.begin; i < r.end; ++i)
            for (std::int64_t j = c.begin; j < std::min(c.end, i + 1); ++j)
              if (dma_keeps(in.death, i, j)) {
                sum += dense[static_cast<std::size_t>(i * L + j)];
                largest = std::max<double>(largest, dense[static_cast<std::size_t>(i * L + j)]);
                ++kept;
              }
          const auto p = static_cast<std::size_t>(y * pixels + x);
          if (kept == 0) {
            ASSERT_NE(zoomed.coverage[p], LogitPixel::Value);
            continue;
          }
          const double want = mode == ReduceMode::Max ? largest : sum / static_cast<double>(kept);
          ASSERT_NEAR(zoomed.values[p], want, 1e-5 + 1e-4 * want) << "pixel " << y << "," << x;
        }
    }
    // Rows outside the log-sum-exp are refused, naming them.
    LogitSource short_source = in.source();
    const std::vector<float> one_row = row_log_sum_exp(in.source(), {0, 1});
    short_source.row_lse = one_row;
    if (L > 1) EXPECT_THROW(reduce_logits_to_grid(short_source, whole, L, L, ReduceMode::Mean), Error);
  }
}

}  // namespace
}  // namespace dmascope
