#include "core/lab/lab_metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/model/linear.h"
#include "core/view/view_geometry.h"

namespace dmascope {

namespace {

// One chunk of rows [row_begin, row_end) over the keys [0, row_end): scores with β (what every strategy's softmax
// sees), the dense reference probabilities (zeros past the diagonal), and whether anything was not finite.
struct ChunkScores {
  std::int64_t row_begin = 0, row_end = 0;
  std::int64_t stride() const { return row_end; }
  std::vector<float> scores;  // [rows, row_end]: q·k·scale + β
  std::vector<float> probs;   // [rows, row_end]: dense p (with or without β)
  bool non_finite = false;
};

// Fills `chunk` (its buffers are reused from chunk to chunk: fresh megabyte vectors cost page faults and zeroing).
void fill_chunk_scores(ChunkScores& chunk, const LabHead& head, std::int64_t row_begin, std::int64_t row_end,
                       bool dense_with_bias) {
  chunk.row_begin = row_begin;
  chunk.row_end = row_end;
  chunk.non_finite = false;
  const std::int64_t rows = row_end - row_begin, keys = row_end, d = head.head_dim;
  chunk.scores.resize(static_cast<std::size_t>(rows * keys));
  chunk.probs.resize(static_cast<std::size_t>(rows * keys));
  matmul_nt_f32_serial(head.query.data() + row_begin * d, rows, d, head.key.data(), keys, chunk.scores.data());
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t i = row_begin + r;
    float* s = chunk.scores.data() + r * keys;
    float* p = chunk.probs.data() + r * keys;
    float top = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j <= i; ++j) {
      const float qk = s[j] * head.scale;
      s[j] = qk + head.beta[static_cast<std::size_t>(j)];
      p[j] = dense_with_bias ? s[j] : qk;
      top = std::max(top, p[j]);
    }
    double sum = 0.0;
    for (std::int64_t j = 0; j <= i; ++j) {
      p[j] = std::exp(p[j] - top);
      sum += p[j];
    }
    const float inverse = static_cast<float>(1.0 / sum);
    for (std::int64_t j = 0; j <= i; ++j) p[j] *= inverse;
    std::fill(p + i + 1, p + keys, 0.0f);
    if (!std::isfinite(top) || !std::isfinite(sum)) chunk.non_finite = true;
  }
}

ChunkScores chunk_scores(const LabHead& head, std::int64_t row_begin, std::int64_t row_end, bool dense_with_bias) {
  ChunkScores chunk;
  fill_chunk_scores(chunk, head, row_begin, row_end, dense_with_bias);
  return chunk;
}

// [d, keys] transpose of the values of keys [0, keys), so that P·V is one matmul_nt.
void fill_values_transposed(std::vector<float>& transposed, const LabHead& head, std::int64_t keys) {
  const std::int64_t d = head.head_dim;
  transposed.resize(static_cast<std::size_t>(d * keys));
  for (std::int64_t j = 0; j < keys; ++j)
    for (std::int64_t c = 0; c < d; ++c)
      transposed[static_cast<std::size_t>(c * keys + j)] = head.value[static_cast<std::size_t>(j * d + c)];
}

struct Totals {
  std::int64_t kept = 0, causal = 0, active_tiles = 0, causal_tiles = 0, empty_rows = 0, rows = 0;
  double recall_sum = 0, recall_min = std::numeric_limits<double>::infinity();
  double error_squared = 0, reference_squared = 0, kept_set_ms = 0;
  std::vector<double> band_sum = std::vector<double>(kRecallRowBands, 0.0);
  std::vector<std::int64_t> band_rows = std::vector<std::int64_t>(kRecallRowBands, 0);
  bool non_finite = false;

  void add(const Totals& other) {
    kept += other.kept, causal += other.causal, active_tiles += other.active_tiles;
    causal_tiles += other.causal_tiles, empty_rows += other.empty_rows, rows += other.rows;
    recall_sum += other.recall_sum, recall_min = std::min(recall_min, other.recall_min);
    error_squared += other.error_squared, reference_squared += other.reference_squared;
    kept_set_ms += other.kept_set_ms;
    for (std::size_t b = 0; b < band_sum.size(); ++b) band_sum[b] += other.band_sum[b], band_rows[b] += other.band_rows[b];
    non_finite = non_finite || other.non_finite;
  }
};

// The x86-64-v3 clone (AVX2 + FMA) of the weighted sums is picked at load time where the CPU has it: they are most
// of the metrics' time, and the baseline build has only SSE2.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DMASCOPE_LAB_CLONES [[gnu::target_clones("arch=x86-64-v3", "default")]]
#else
#define DMASCOPE_LAB_CLONES
#endif

// Eight floats as one value (GCC's vector extension): the AVX2 clone holds it in one register, the baseline in two.
using Float8 = float __attribute__((vector_size(32)));

// out[0, d) = Σ_k weights[k] · values[keys[k]]: 32 output columns at a time, held in four registers over all keys
// (written with vector types: the loop form was left scalar by the vectorizer).
DMASCOPE_LAB_CLONES
void weighted_value_sum(const std::int32_t* keys, const float* weights, std::int64_t count, const float* values,
                        std::int64_t d, float* out) {
  std::int64_t c0 = 0;
  for (; c0 + 32 <= d; c0 += 32) {
    Float8 sum0 = {}, sum1 = {}, sum2 = {}, sum3 = {};
    for (std::int64_t k = 0; k < count; ++k) {
      const Float8 weight = Float8{} + weights[k];
      const float* row = values + static_cast<std::int64_t>(keys[k]) * d + c0;
      Float8 v0, v1, v2, v3;  // unaligned loads (memcpy: no alignment or aliasing assumed)
      std::memcpy(&v0, row, sizeof v0);
      std::memcpy(&v1, row + 8, sizeof v1);
      std::memcpy(&v2, row + 16, sizeof v2);
      std::memcpy(&v3, row + 24, sizeof v3);
      sum0 += weight * v0;
      sum1 += weight * v1;
      sum2 += weight * v2;
      sum3 += weight * v3;
    }
    std::memcpy(out + c0, &sum0, sizeof sum0);
    std::memcpy(out + c0 + 8, &sum1, sizeof sum1);
    std::memcpy(out + c0 + 16, &sum2, sizeof sum2);
    std::memcpy(out + c0 + 24, &sum3, sizeof sum3);
  }
  for (; c0 < d; ++c0) {
    float sum = 0.0f;
    for (std::int64_t k = 0; k < count; ++k) sum += weights[k] * values[static_cast<std::int64_t>(keys[k]) * d + c0];
    out[c0] = sum;
  }
}

// Σ_{j∈row} p_j in fp64 over four partial sums: one running sum is a chain of dependent adds, the metrics' slowest
// loop after the weighted sums.
double kept_probability(const float* p, std::span<const std::int32_t> row) {
  double sum[4] = {0.0, 0.0, 0.0, 0.0};
  std::size_t k = 0;
  for (; k + 4 <= row.size(); k += 4)
    for (std::size_t lane = 0; lane < 4; ++lane) sum[lane] += p[row[k + lane]];
  for (; k < row.size(); ++k) sum[0] += p[row[k]];
  return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

// The complement form of O_S divides by the recall R: at R ≥ 1/2 it loses at most one bit to cancellation.
constexpr double kComplementMinRecall = 0.5;

double elapsed_ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::vector<StrategyMetrics> head_metrics(const LabHead& head, std::span<const Strategy> strategies,
                                          const LabMetricOptions& options) {
  const KeptSetBuilder builder(head);
  const std::int64_t L = head.length, d = head.head_dim;
  const std::int64_t chunk_rows = std::max<std::int64_t>(1, options.tiles.rows);
  const std::int64_t tile_cols = std::max<std::int64_t>(1, options.tiles.cols);
  const std::int64_t chunks = (L + chunk_rows - 1) / chunk_rows;
  std::vector<Totals> totals(strategies.size());
  std::mutex totals_mutex;

  parallel_for(chunks, 1, [&](std::int64_t chunk_begin, std::int64_t chunk_end) {
    std::vector<Totals> local(strategies.size());
    std::vector<float> dense_out, sparse_row(static_cast<std::size_t>(d));
    std::vector<std::uint8_t> tile_active;
    std::vector<std::int32_t> weight_keys;
    std::vector<float> weights, values_t;
    ChunkScores dense;
    for (std::int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      if (options.cancel != nullptr && options.cancel->load()) throw LabCancelled();
      const std::int64_t r0 = chunk * chunk_rows, r1 = std::min(L, r0 + chunk_rows), rows = r1 - r0, keys = r1;
      fill_chunk_scores(dense, head, r0, r1, options.dense_with_bias);
      fill_values_transposed(values_t, head, keys);
      dense_out.resize(static_cast<std::size_t>(rows * d));
      matmul_nt_f32_serial(dense.probs.data(), rows, keys, values_t.data(), d, dense_out.data());
      double reference_squared = 0;
      for (float o : dense_out) reference_squared += static_cast<double>(o) * o;
      const std::int64_t causal_tiles = (r1 - 1) / tile_cols + 1;
      for (std::size_t s = 0; s < strategies.size(); ++s) {
        Totals& t = local[s];
        const auto start = std::chrono::steady_clock::now();
        const KeptRows kept = builder.rows(strategies[s], r0, r1, dense.scores, dense.stride());
        t.kept_set_ms += elapsed_ms_since(start);
        tile_active.assign(static_cast<std::size_t>(causal_tiles), 0);
        for (std::int64_t i = r0; i < r1; ++i) {
          const auto row = kept.row(i);
          const float* score = dense.scores.data() + (i - r0) * keys;
          const float* p = dense.probs.data() + (i - r0) * keys;
          const float* dense_row = dense_out.data() + (i - r0) * d;
          const double recall = kept_probability(p, row);
          std::int64_t tile_end = -1;  // keys ascend: one division per tile entered, not per key
          for (std::int32_t j : row) {
            if (j >= tile_end) {
              const std::int64_t tile = j / tile_cols;
              tile_active[static_cast<std::size_t>(tile)] = 1;
              tile_end = (tile + 1) * tile_cols;
            }
          }
          const auto kept_count = static_cast<std::int64_t>(row.size()), dropped_count = i + 1 - kept_count;
          if (row.empty()) {
            std::fill(sparse_row.begin(), sparse_row.end(), 0.0f);  // an empty row outputs 0 (the error is the whole row)
          } else if (options.dense_with_bias && recall >= kComplementMinRecall && dropped_count < kept_count) {
            // The sparse softmax is P/R on S (§5.2), so O_S = (O_dense − Σ_dropped p_j v_j) / R: cheaper when fewer
            // keys are dropped than kept; R ≥ 1/2 bounds the cancellation to one bit.
            weight_keys.resize(static_cast<std::size_t>(dropped_count));
            weights.resize(static_cast<std::size_t>(dropped_count));
            std::int32_t* dropped_key = weight_keys.data();
            float* dropped_weight = weights.data();
            std::int32_t next = 0;
            const auto drop_until = [&](std::int32_t end) {
              for (; next < end; ++next) *dropped_key++ = next, *dropped_weight++ = p[next];
            };
            for (std::int32_t j : row) drop_until(j), next = j + 1;
            drop_until(static_cast<std::int32_t>(i + 1));
            weighted_value_sum(weight_keys.data(), weights.data(), dropped_count, head.value.data(), d,
                               sparse_row.data());
            const float inverse = static_cast<float>(1.0 / recall);
            for (std::int64_t c = 0; c < d; ++c) sparse_row[c] = (dense_row[c] - sparse_row[c]) * inverse;
          } else {
            float top = -std::numeric_limits<float>::infinity();
            for (std::int32_t j : row) top = std::max(top, score[j]);
            double sum = 0.0;
            weights.resize(row.size());
            for (std::size_t k = 0; k < row.size(); ++k) {
              weights[k] = std::exp(score[row[k]] - top);
              sum += weights[k];
            }
            weighted_value_sum(row.data(), weights.data(), kept_count, head.value.data(), d, sparse_row.data());
            const float inverse = static_cast<float>(1.0 / sum);
            for (std::int64_t c = 0; c < d; ++c) sparse_row[c] *= inverse;
            if (!std::isfinite(top) || !std::isfinite(sum)) t.non_finite = true;
          }
          for (std::int64_t c = 0; c < d; ++c) {
            const double diff = static_cast<double>(sparse_row[c]) - dense_row[c];
            t.error_squared += diff * diff;
          }
          t.empty_rows += row.empty();
          t.kept += kept_count;
          t.causal += i + 1;
          t.rows += 1;
          t.recall_sum += recall;
          t.recall_min = std::min(t.recall_min, recall);
          const auto band = static_cast<std::size_t>(i * kRecallRowBands / L);
          t.band_sum[band] += recall;
          t.band_rows[band] += 1;
        }
        for (std::uint8_t active : tile_active) t.active_tiles += active;
        t.causal_tiles += causal_tiles;
        t.reference_squared += reference_squared;
        t.non_finite = t.non_finite || dense.non_finite || !std::isfinite(reference_squared);
      }
    }
    const std::lock_guard lock(totals_mutex);
    for (std::size_t s = 0; s < strategies.size(); ++s) totals[s].add(local[s]);
  });

  std::vector<StrategyMetrics> metrics;
  for (std::size_t s = 0; s < strategies.size(); ++s) {
    const Totals& t = totals[s];
    StrategyMetrics m;
    m.strategy = strategies[s];
    m.window = head.window;
    m.kept_entries = t.kept;
    m.causal_entries = t.causal;
    m.active_tiles = t.active_tiles;
    m.causal_tiles = t.causal_tiles;
    m.empty_rows = t.empty_rows;
    m.kept_set_ms = t.kept_set_ms;
    m.token_density = static_cast<double>(t.kept) / static_cast<double>(t.causal);
    m.tile_density = static_cast<double>(t.active_tiles) / static_cast<double>(t.causal_tiles);
    m.mass_recall_mean = t.recall_sum / static_cast<double>(t.rows);
    m.mass_recall_min = t.recall_min;
    for (std::size_t b = 0; b < t.band_sum.size(); ++b)
      m.mass_recall_by_band.push_back(t.band_rows[b] > 0 ? t.band_sum[b] / static_cast<double>(t.band_rows[b])
                                                         : std::numeric_limits<double>::quiet_NaN());
    m.output_rel_error = std::sqrt(t.error_squared / t.reference_squared);
    m.non_finite = t.non_finite || !std::isfinite(m.output_rel_error) || !std::isfinite(m.mass_recall_mean);
    if (m.non_finite) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      m.mass_recall_mean = m.mass_recall_min = m.output_rel_error = nan;
      std::fill(m.mass_recall_by_band.begin(), m.mass_recall_by_band.end(), nan);
    }
    metrics.push_back(std::move(m));
  }
  return metrics;
}

std::vector<double> kept_set_jaccard(std::span<const LabHead> heads, Strategy strategy) {
  const auto H = static_cast<std::int64_t>(heads.size());
  if (H == 0) return {};
  const std::int64_t L = heads[0].length;
  for (const LabHead& head : heads)
    if (head.length != L) fail("kept-set Jaccard: heads of different lengths ({} and {})", L, head.length);
  std::vector<KeptSetBuilder> builders;
  for (const LabHead& head : heads) builders.emplace_back(head);
  std::vector<double> intersection(static_cast<std::size_t>(H * H), 0.0), union_size(intersection.size(), 0.0);
  std::mutex mutex;
  const std::int64_t chunk_rows = 64, chunks = (L + chunk_rows - 1) / chunk_rows;
  parallel_for(chunks, 1, [&](std::int64_t chunk_begin, std::int64_t chunk_end) {
    std::vector<double> local_intersection(intersection.size(), 0.0), local_union(intersection.size(), 0.0);
    for (std::int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const std::int64_t r0 = chunk * chunk_rows, r1 = std::min(L, r0 + chunk_rows);
      std::vector<KeptRows> kept;
      for (const KeptSetBuilder& builder : builders) kept.push_back(builder.rows(strategy, r0, r1));
      for (std::int64_t a = 0; a < H; ++a)
        for (std::int64_t b = a; b < H; ++b)
          for (std::int64_t i = r0; i < r1; ++i) {
            const auto ra = kept[static_cast<std::size_t>(a)].row(i), rb = kept[static_cast<std::size_t>(b)].row(i);
            std::size_t x = 0, y = 0, common = 0;
            while (x < ra.size() && y < rb.size()) {
              if (ra[x] == rb[y]) ++common, ++x, ++y;
              else if (ra[x] < rb[y]) ++x;
              else ++y;
            }
            local_intersection[static_cast<std::size_t>(a * H + b)] += static_cast<double>(common);
            local_union[static_cast<std::size_t>(a * H + b)] += static_cast<double>(ra.size() + rb.size() - common);
          }
    }
    const std::lock_guard lock(mutex);
    for (std::size_t e = 0; e < intersection.size(); ++e)
      intersection[e] += local_intersection[e], union_size[e] += local_union[e];
  });
  std::vector<double> jaccard(intersection.size(), 1.0);
  for (std::int64_t a = 0; a < H; ++a)
    for (std::int64_t b = a; b < H; ++b) {
      const auto e = static_cast<std::size_t>(a * H + b);
      const double value = union_size[e] > 0 ? intersection[e] / union_size[e] : 1.0;
      jaccard[e] = value;
      jaccard[static_cast<std::size_t>(b * H + a)] = value;
    }
  return jaccard;
}

std::vector<float> dropped_mass_grid(const LabHead& head, Strategy strategy, bool dense_with_bias,
                                     const MatrixWindow& window, std::int64_t width, std::int64_t height,
                                     ReduceMode mode) {
  if (width < 1 || height < 1) fail("dropped-mass grid: size {}×{} must be at least 1×1", width, height);
  const KeptSetBuilder builder(head);
  const std::int64_t L = head.length;
  std::vector<float> grid(static_cast<std::size_t>(width * height), kNoCausalCell);
  std::vector<CellRange> columns;
  for (std::int64_t x = 0; x < width; ++x) columns.push_back(cells_of_pixel(window.col_begin, window.col_end, width, x, L));
  parallel_for(height, 1, [&](std::int64_t y_begin, std::int64_t y_end) {
    std::vector<double> sum(static_cast<std::size_t>(width)), top(static_cast<std::size_t>(width));
    std::vector<std::int64_t> count(static_cast<std::size_t>(width));
    std::vector<std::uint8_t> kept_flag;
    for (std::int64_t y = y_begin; y < y_end; ++y) {
      const CellRange rows = cells_of_pixel(window.row_begin, window.row_end, height, y, L);
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(top.begin(), top.end(), 0.0);
      std::fill(count.begin(), count.end(), 0);
      for (std::int64_t i = rows.begin; i < rows.end; ++i) {
        const ChunkScores dense = chunk_scores(head, i, i + 1, dense_with_bias);
        const KeptRows kept = builder.rows(strategy, i, i + 1, dense.scores, dense.stride());
        kept_flag.assign(static_cast<std::size_t>(i + 1), 0);
        for (std::int32_t j : kept.row(i)) kept_flag[static_cast<std::size_t>(j)] = 1;
        for (std::int64_t x = 0; x < width; ++x) {
          const CellRange cols = columns[static_cast<std::size_t>(x)];
          for (std::int64_t j = cols.begin; j < std::min(cols.end, i + 1); ++j) {
            const double dropped = kept_flag[static_cast<std::size_t>(j)] ? 0.0 : dense.probs[static_cast<std::size_t>(j)];
            sum[static_cast<std::size_t>(x)] += dropped;
            top[static_cast<std::size_t>(x)] = std::max(top[static_cast<std::size_t>(x)], dropped);
            ++count[static_cast<std::size_t>(x)];
          }
        }
      }
      for (std::int64_t x = 0; x < width; ++x) {
        const auto c = static_cast<std::size_t>(x);
        if (count[c] == 0) continue;
        grid[static_cast<std::size_t>(y * width + x)] =
            static_cast<float>(mode == ReduceMode::Mean ? sum[c] / static_cast<double>(count[c]) : top[c]);
      }
    }
  });
  return grid;
}

std::vector<float> dense_attention_map(const LabHead& head, bool dense_with_bias, bool parallel) {
  head.validate();
  const std::int64_t L = head.length;
  std::vector<float> map(static_cast<std::size_t>(L * L), 0.0f);
  const std::int64_t chunk_rows = 64, chunks = (L + chunk_rows - 1) / chunk_rows;
  const auto rows = [&](std::int64_t chunk_begin, std::int64_t chunk_end) {
    for (std::int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const std::int64_t r0 = chunk * chunk_rows, r1 = std::min(L, r0 + chunk_rows);
      const ChunkScores dense = chunk_scores(head, r0, r1, dense_with_bias);
      for (std::int64_t i = r0; i < r1; ++i)
        std::copy_n(dense.probs.begin() + (i - r0) * r1, i + 1, map.begin() + i * L);
    }
  };
  if (parallel)
    parallel_for(chunks, 1, rows);
  else
    rows(0, chunks);
  return map;
}

}  // namespace dmascope
