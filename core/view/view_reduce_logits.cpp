// The logits view's reduction (declared in core/view/view_reduce.h): per pixel, the kept entries it covers, key by key
// (a key's kept rows in a row band are one interval, [max(j, r0), min(death_j, r1))), so that masked cells cost
// nothing and only kept entries cost a dot product.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/view/view_reduce.h"

namespace dmascope {

namespace {

// q·k with 8 independent partial sums: the compiler vectorises it without -ffast-math, and the result does not
// depend on the caller (the tooltip and the grid agree bit for bit).
float dot(const float* a, const float* b, std::int64_t n) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int lane = 0; lane < 8; ++lane) partial[lane] += a[k + lane] * b[k + lane];
  for (; k < n; ++k) partial[k % 8] += a[k] * b[k];
  return ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
}

float logit_of(const LogitSource& source, std::int64_t i, std::int64_t j) {
  const std::int64_t d = source.head_dim;
  return dot(source.query.data() + i * d, source.key.data() + j * d, d) * source.scale + source.beta[j];
}

// What a pixel reduces: the logit, or its probability given the row's log-sum-exp.
float value_of(const LogitSource& source, std::int64_t i, std::int64_t j) {
  const float logit = logit_of(source, i, j);
  return source.probabilities() ? std::exp(logit - source.row_lse[static_cast<std::size_t>(i - source.lse_first_row)])
                                : logit;
}

// The rows of key j kept within the row band [r0, r1).
struct RowInterval {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return std::max<std::int64_t>(0, end - begin); }
};
RowInterval kept_rows(std::span<const std::int32_t> death, std::int64_t j, const CellRange& rows) {
  return {std::max(j, rows.begin), std::min<std::int64_t>(death[j], rows.end)};
}

struct PixelResult {
  LogitPixel coverage = LogitPixel::NoCausalCell;
  float value = 0.0f;
  std::int64_t computed = 0;
  bool sampled = false;
};

// One pixel: rows × keys. With budget ≥ its kept count every kept entry is computed; otherwise `budget` of them, the
// s-th being entry ⌊(s + ½)·K/budget⌋ of the key-major enumeration (evenly spread, deterministic).
PixelResult reduce_pixel(const LogitSource& source, const CellRange& rows, const CellRange& keys, ReduceMode mode,
                         std::int64_t budget) {
  PixelResult pixel;
  const std::int64_t key_end = std::min(keys.end, rows.end);  // keys past the band's last row: above the diagonal
  if (keys.begin >= key_end) return pixel;
  pixel.coverage = LogitPixel::AllMasked;
  std::int64_t kept = 0;
  for (std::int64_t j = keys.begin; j < key_end; ++j) kept += kept_rows(source.death, j, rows).size();
  if (kept == 0) return pixel;
  pixel.coverage = LogitPixel::Value;
  double sum = 0.0;
  float largest = -std::numeric_limits<float>::infinity();
  auto take = [&](std::int64_t i, std::int64_t j) {
    const float logit = value_of(source, i, j);
    sum += logit;
    largest = std::max(largest, logit);
    ++pixel.computed;
  };
  if (kept <= budget) {
    for (std::int64_t j = keys.begin; j < key_end; ++j) {
      const RowInterval interval = kept_rows(source.death, j, rows);
      for (std::int64_t i = interval.begin; i < interval.end; ++i) take(i, j);
    }
  } else {
    pixel.sampled = true;
    std::int64_t sample = 0, before = 0;  // before: kept entries of the keys already walked
    auto target = [&](std::int64_t s) {
      return static_cast<std::int64_t>((static_cast<double>(s) + 0.5) * static_cast<double>(kept) /
                                       static_cast<double>(budget));
    };
    for (std::int64_t j = keys.begin; j < key_end && sample < budget; ++j) {
      const RowInterval interval = kept_rows(source.death, j, rows);
      const std::int64_t count = interval.size();
      for (std::int64_t t = target(sample); sample < budget && t < before + count; t = target(++sample))
        take(interval.begin + (t - before), j);
      before += count;
    }
  }
  pixel.value = mode == ReduceMode::Max ? largest : static_cast<float>(sum / static_cast<double>(pixel.computed));
  return pixel;
}

}  // namespace

void LogitSource::validate() const {
  const std::int64_t L = length();
  if (head_dim < 1) fail("logits view: head_dim {} must be at least 1", head_dim);
  if (static_cast<std::int64_t>(beta.size()) != L)
    fail("logits view: β has {} values for {} keys (death indices)", beta.size(), L);
  if (static_cast<std::int64_t>(query.size()) != L * head_dim || static_cast<std::int64_t>(key.size()) != L * head_dim)
    fail("logits view: q has {} and k {} values, expected [{}, {}] each", query.size(), key.size(), L, head_dim);
  if (lse_first_row < 0 || lse_first_row + static_cast<std::int64_t>(row_lse.size()) > L)
    fail("probabilities view: log-sum-exp rows [{}, {}) are outside [0, {})", lse_first_row,
         lse_first_row + static_cast<std::int64_t>(row_lse.size()), L);
}

float dma_logit(const LogitSource& source, std::int64_t query, std::int64_t key) {
  if (query < 0 || key < 0 || query >= source.length() || key >= source.length())
    fail("logits view: cell ({}, {}) is outside the {}×{} matrix", query, key, source.length(), source.length());
  return logit_of(source, query, key);
}

float dma_probability(const LogitSource& source, std::int64_t query, std::int64_t key) {
  const float logit = dma_logit(source, query, key);
  const std::int64_t row = query - source.lse_first_row;
  if (row < 0 || row >= static_cast<std::int64_t>(source.row_lse.size()))
    fail("probabilities view: row {} has no log-sum-exp (the source covers rows [{}, {}))", query,
         source.lse_first_row, source.lse_first_row + static_cast<std::int64_t>(source.row_lse.size()));
  return std::exp(logit - source.row_lse[static_cast<std::size_t>(row)]);
}

std::vector<float> row_log_sum_exp(const LogitSource& source, const CellRange& rows, const std::atomic<bool>* cancel) {
  source.validate();
  const std::int64_t L = source.length();
  if (rows.begin < 0 || rows.end > L || rows.begin > rows.end)
    fail("row log-sum-exp: rows [{}, {}) are outside [0, {})", rows.begin, rows.end, L);
  const std::int64_t count = rows.end - rows.begin;
  std::vector<float> lse(static_cast<std::size_t>(count));
  std::atomic<bool> stopped{false};
  // Each block of rows sweeps down its rows with the keys still alive (j ≤ i < death[j]) in ascending order: the first
  // row's found by one scan of the keys before it, then each row adds its own key and drops the keys that died. A
  // row costs its kept keys, not its whole prefix (a 32K-token view: 2K keys a row, not 16K on average). Few blocks per
  // worker, since each pays one scan.
  const std::int64_t grain = std::max<std::int64_t>(64, (count + 8 * worker_count() - 1) / (8 * worker_count()));
  parallel_for(count, grain, [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::int32_t> alive;
    const std::int64_t first = rows.begin + begin;
    for (std::int64_t j = 0; j < first; ++j)
      if (source.death[static_cast<std::size_t>(j)] > first) alive.push_back(static_cast<std::int32_t>(j));
    std::vector<float> logits;
    for (std::int64_t n = begin; n < end; ++n) {
      if (cancel && cancel->load(std::memory_order_relaxed)) {
        stopped = true;
        return;
      }
      const std::int64_t i = rows.begin + n;
      alive.push_back(static_cast<std::int32_t>(i));
      logits.clear();
      std::size_t kept = 0;
      for (const std::int32_t j : alive)
        if (source.death[static_cast<std::size_t>(j)] > i) {
          alive[kept++] = j;
          logits.push_back(logit_of(source, i, j));
        }
      alive.resize(kept);
      if (logits.empty()) {
        lse[static_cast<std::size_t>(n)] = -std::numeric_limits<float>::infinity();
        continue;
      }
      const float largest = *std::max_element(logits.begin(), logits.end());
      double sum = 0.0;
      for (float logit : logits) sum += std::exp(static_cast<double>(logit) - largest);
      lse[static_cast<std::size_t>(n)] = static_cast<float>(largest + std::log(sum));
    }
  });
  if (stopped) return {};
  return lse;
}

std::int64_t logit_samples_per_pixel(std::int64_t pixels) {
  constexpr std::int64_t kSampledEntriesPerGrid = std::int64_t{1} << 24, kMinSamples = 4;
  return std::clamp(kSampledEntriesPerGrid / std::max<std::int64_t>(pixels, 1), kMinSamples, kLogitSamplesPerPixel);
}

CellRange rows_in_view(const MatrixWindow& window, std::int64_t height, std::int64_t L) {
  if (L == 0 || height < 1) return {0, 0};
  return {cells_of_pixel(window.row_begin, window.row_end, height, 0, L).begin,
          cells_of_pixel(window.row_begin, window.row_end, height, height - 1, L).end};
}

std::int64_t kept_entries_in_window(std::span<const std::int32_t> death, const MatrixWindow& window,
                                    std::int64_t width, std::int64_t height) {
  const auto L = static_cast<std::int64_t>(death.size());
  if (L == 0 || width < 1 || height < 1) return 0;
  const CellRange rows = rows_in_view(window, height, L);
  const CellRange keys{cells_of_pixel(window.col_begin, window.col_end, width, 0, L).begin,
                       cells_of_pixel(window.col_begin, window.col_end, width, width - 1, L).end};
  std::int64_t kept = 0;
  for (std::int64_t j = keys.begin; j < std::min(keys.end, rows.end); ++j) kept += kept_rows(death, j, rows).size();
  return kept;
}

LogitGrid reduce_logits_to_grid(const LogitSource& source, const MatrixWindow& window, std::int64_t width,
                                std::int64_t height, ReduceMode mode, const LogitGridOptions& options) {
  if (width < 1 || height < 1) fail("view reduction: grid {}x{} must be at least 1x1 pixels", width, height);
  if (options.samples_per_pixel < 1) fail("logits view: samples_per_pixel {} must be at least 1", options.samples_per_pixel);
  source.validate();
  const std::int64_t L = source.length();
  LogitGrid grid;
  grid.width = width;
  grid.height = height;
  grid.values.assign(static_cast<std::size_t>(width * height), 0.0f);
  grid.coverage.assign(static_cast<std::size_t>(width * height), LogitPixel::NoCausalCell);
  if (L == 0) return grid;
  if (source.probabilities()) {
    const CellRange needed = rows_in_view(window, height, L);
    if (needed.begin < source.lse_first_row ||
        needed.end > source.lse_first_row + static_cast<std::int64_t>(source.row_lse.size()))
      fail("probabilities view: the grid covers rows [{}, {}), the log-sum-exp only [{}, {})", needed.begin,
           needed.end, source.lse_first_row, source.lse_first_row + static_cast<std::int64_t>(source.row_lse.size()));
  }
  grid.kept_entries = kept_entries_in_window(source.death, window, width, height);
  const std::int64_t budget =
      grid.kept_entries <= options.exact_max_entries ? std::numeric_limits<std::int64_t>::max() : options.samples_per_pixel;
  const auto rows = cells_of_pixels(window.row_begin, window.row_end, height, L);
  const auto columns = cells_of_pixels(window.col_begin, window.col_end, width, L);
  // Zoomed in, neighbouring pixels cover the same cell: each distinct row (column) range is reduced once and copied.
  std::vector<std::int64_t> distinct_rows;
  for (std::int64_t y = 0; y < height; ++y)
    if (y == 0 || rows[y] != rows[y - 1]) distinct_rows.push_back(y);
  std::vector<std::int64_t> computed(distinct_rows.size(), 0);
  std::vector<char> sampled(distinct_rows.size(), 0);
  std::atomic<bool> stopped{false};
  parallel_for(static_cast<std::int64_t>(distinct_rows.size()), 4, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t n = begin; n < end; ++n) {
      if (options.cancel && options.cancel->load(std::memory_order_relaxed)) {
        stopped = true;
        return;
      }
      const std::int64_t y = distinct_rows[n];
      float* values = grid.values.data() + y * width;
      LogitPixel* coverage = grid.coverage.data() + y * width;
      for (std::int64_t x = 0; x < width; ++x) {
        if (x > 0 && columns[x] == columns[x - 1]) {
          values[x] = values[x - 1];
          coverage[x] = coverage[x - 1];
          continue;
        }
        const PixelResult pixel = reduce_pixel(source, rows[y], columns[x], mode, budget);
        values[x] = pixel.value;
        coverage[x] = pixel.coverage;
        computed[n] += pixel.computed;
        sampled[n] |= pixel.sampled;
      }
    }
  });
  if (stopped) {
    grid.cancelled = true;
    return grid;
  }
  for (std::int64_t y = 1; y < height; ++y)
    if (rows[y] == rows[y - 1]) {
      std::copy_n(grid.values.begin() + (y - 1) * width, width, grid.values.begin() + y * width);
      std::copy_n(grid.coverage.begin() + (y - 1) * width, width, grid.coverage.begin() + y * width);
    }
  for (std::size_t n = 0; n < distinct_rows.size(); ++n) {
    grid.computed_entries += computed[n];
    grid.sampled |= sampled[n] != 0;
  }
  set_value_range(grid);
  return grid;
}

void set_value_range(LogitGrid& grid) {
  bool any = false;
  for (std::size_t p = 0; p < grid.values.size(); ++p) {
    if (grid.coverage[p] != LogitPixel::Value) continue;
    grid.low = any ? std::min(grid.low, grid.values[p]) : grid.values[p];
    grid.high = any ? std::max(grid.high, grid.values[p]) : grid.values[p];
    any = true;
  }
}

}  // namespace dmascope
