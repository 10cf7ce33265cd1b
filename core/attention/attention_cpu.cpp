#include "core/attention/attention_cpu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "core/base/error.h"
#include "core/model/linear.h"
#include "core/base/parallel.h"

namespace dmascope {

void AttentionProblem::validate() const {
  if (batch < 1 || q_heads < 1 || kv_heads < 1 || bias_heads < 1 || head_dim < 1 || q_len < 0 || key_len < 0)
    fail("attention: invalid sizes (batch {}, heads {}/{}/{}, q_len {}, key_len {}, head_dim {})", batch, q_heads,
         kv_heads, bias_heads, q_len, key_len, head_dim);
  if (q_heads % kv_heads != 0) fail("attention: {} query heads are not a multiple of {} kv heads", q_heads, kv_heads);
  if (bias_heads != q_heads && bias_heads != kv_heads)
    fail("attention: {} bias heads must equal the query heads ({}) or the kv heads ({})", bias_heads, q_heads, kv_heads);
  if (q_len > key_len) fail("attention: q_len {} exceeds key_len {}", q_len, key_len);
  if (!q || !k || !v) fail("attention: q, k and v are required");
}

namespace {

bool entry_kept(const std::int32_t* death, std::int64_t position, std::int64_t key) {
  return key <= position && (death == nullptr || position < death[key]);
}

}  // namespace

void attention_reference(const AttentionProblem& problem, float* out, float* probs, bool accumulate_in_double) {
  problem.validate();
  const auto& P = problem;
  const std::int64_t d = P.head_dim, offset = P.key_len - P.q_len;
  parallel_for(P.batch * P.q_heads * P.q_len, 16, [&](std::int64_t begin, std::int64_t end) {
    std::vector<double> scores(static_cast<std::size_t>(P.key_len));
    std::vector<double> context(static_cast<std::size_t>(d));
    for (std::int64_t item = begin; item < end; ++item) {
      const std::int64_t i = item % P.q_len, h = (item / P.q_len) % P.q_heads, b = item / (P.q_len * P.q_heads);
      const std::int64_t g = P.kv_head_of(h), bias_head = P.bias_head_of(h), position = offset + i;
      const float* q = P.q + ((b * P.q_heads + h) * P.q_len + i) * d;
      const float* keys = P.k + (b * P.kv_heads + g) * P.key_len * d;
      const float* values = P.v + (b * P.kv_heads + g) * P.key_len * d;
      const float* beta = P.beta ? P.beta + (b * P.bias_heads + bias_head) * P.key_len : nullptr;
      const std::int32_t* death = P.death ? P.death + (b * P.bias_heads + bias_head) * P.key_len : nullptr;
      double max_score = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < P.key_len; ++j) {
        if (!entry_kept(death, position, j)) continue;
        double dot = 0.0;
        if (accumulate_in_double) {
          for (std::int64_t c = 0; c < d; ++c) dot += static_cast<double>(q[c]) * keys[j * d + c];
        } else {
          float dot_f = 0.0f;
          for (std::int64_t c = 0; c < d; ++c) dot_f += q[c] * keys[j * d + c];
          dot = dot_f;
        }
        scores[j] = dot * P.scale + (beta ? beta[j] : 0.0);
        max_score = std::max(max_score, scores[j]);
      }
      double sum = 0.0;
      std::fill(context.begin(), context.end(), 0.0);
      for (std::int64_t j = 0; j < P.key_len; ++j) {
        if (!entry_kept(death, position, j)) continue;
        scores[j] = std::exp(scores[j] - max_score);
        sum += scores[j];
        for (std::int64_t c = 0; c < d; ++c) context[c] += scores[j] * values[j * d + c];
      }
      float* o = out + ((b * P.q_heads + h) * P.q_len + i) * d;
      // A row with no kept key cannot occur for window >= 1 (every row keeps its best key); guard anyway: zeros.
      for (std::int64_t c = 0; c < d; ++c) o[c] = sum > 0.0 ? static_cast<float>(context[c] / sum) : 0.0f;
      if (probs) {
        float* row = probs + ((b * P.q_heads + h) * P.q_len + i) * P.key_len;
        for (std::int64_t j = 0; j < P.key_len; ++j)
          row[j] = entry_kept(death, position, j) && sum > 0.0 ? static_cast<float>(scores[j] / sum) : 0.0f;
      }
    }
  });
}

std::string_view tile_status_name(TileStatus status) {
  switch (status) {
    case TileStatus::Skipped: return "skipped";
    case TileStatus::Partial: return "partial";
    case TileStatus::Full: return "full";
  }
  return "?";
}

double TileMap::tile_density() const {
  return causal_tiles ? static_cast<double>(partial + full) / static_cast<double>(causal_tiles) : 0.0;
}

double TileMap::token_density() const {
  return causal_entries ? static_cast<double>(kept_entries) / static_cast<double>(causal_entries) : 0.0;
}

TileMap build_tile_map(const std::int32_t* death, std::int64_t key_len, std::int64_t q_len, TileShape shape) {
  if (shape.rows < 1 || shape.cols < 1) fail("tile shape {}x{} must be positive", shape.rows, shape.cols);
  TileMap map;
  map.shape = shape;
  map.q_tiles = (q_len + shape.rows - 1) / shape.rows;
  map.k_tiles = (key_len + shape.cols - 1) / shape.cols;
  map.status.assign(static_cast<std::size_t>(map.q_tiles * map.k_tiles), 0);
  const std::int64_t offset = key_len - q_len;
  std::vector<std::int64_t> kept_in_tile(static_cast<std::size_t>(map.k_tiles)),
      causal_in_tile(static_cast<std::size_t>(map.k_tiles));
  for (std::int64_t qt = 0; qt < map.q_tiles; ++qt) {
    const std::int64_t p0 = offset + qt * shape.rows, p1 = offset + std::min(q_len, (qt + 1) * shape.rows);  // [p0,p1)
    std::fill(kept_in_tile.begin(), kept_in_tile.end(), 0);
    std::fill(causal_in_tile.begin(), causal_in_tile.end(), 0);
    for (std::int64_t j = 0; j < std::min(key_len, p1); ++j) {
      // Rows of the tile where key j is allowed: [max(j,p0), p1); kept: up to death_j.
      const std::int64_t from = std::max(j, p0);
      const std::int64_t to_kept = death ? std::min<std::int64_t>(p1, death[j]) : p1;
      causal_in_tile[j / shape.cols] += p1 - from;
      if (to_kept > from) kept_in_tile[j / shape.cols] += to_kept - from;
    }
    for (std::int64_t kt = 0; kt < map.k_tiles; ++kt) {
      TileStatus status = TileStatus::Skipped;
      if (kept_in_tile[kt] > 0) status = kept_in_tile[kt] == causal_in_tile[kt] &&
                                                 causal_in_tile[kt] == (p1 - p0) * std::min(shape.cols, key_len - kt * shape.cols)
                                             ? TileStatus::Full
                                             : TileStatus::Partial;
      map.status[qt * map.k_tiles + kt] = static_cast<std::uint8_t>(status);
      map.causal_tiles += causal_in_tile[kt] > 0;
      map.kept_entries += kept_in_tile[kt];
      map.causal_entries += causal_in_tile[kt];
      (status == TileStatus::Skipped ? map.skipped : status == TileStatus::Partial ? map.partial : map.full) += 1;
    }
  }
  return map;
}

AttentionWork attention_tiled(const AttentionProblem& problem, TileShape shape, float* out) {
  problem.validate();
  if (shape.rows < 1 || shape.cols < 1) fail("tile shape {}x{} must be positive", shape.rows, shape.cols);
  const auto& P = problem;
  const std::int64_t d = P.head_dim, offset = P.key_len - P.q_len;
  const std::int64_t q_tiles = (P.q_len + shape.rows - 1) / shape.rows;
  const std::int64_t heads_per_bias = P.q_heads / P.bias_heads;
  std::atomic<std::int64_t> score_entries{0}, kept_entries{0};
  // One work item = (batch, bias head, query tile); later tiles have more keys, so hand them out first.
  const std::int64_t items = P.batch * P.bias_heads * q_tiles;
  parallel_for(items, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::int32_t> gathered;                       // key indices kept by some row of the tile
    std::vector<float> keys_g, values_g, beta_g, scores, row_weights;
    std::int64_t local_scores = 0, local_kept = 0;
    for (std::int64_t reversed = begin; reversed < end; ++reversed) {
      const std::int64_t item = items - 1 - reversed;
      const std::int64_t qt = item % q_tiles, bias_head = (item / q_tiles) % P.bias_heads, b = item / (q_tiles * P.bias_heads);
      const std::int64_t r0 = qt * shape.rows, r1 = std::min(P.q_len, r0 + shape.rows), rows = r1 - r0;
      const std::int64_t p0 = offset + r0, p_last = offset + r1 - 1;
      // The kv head: under the small-doge layout a bias head is a query head; its kv head is h / G.
      const std::int64_t first_q_head = P.bias_heads == P.q_heads ? bias_head : bias_head * heads_per_bias;
      const std::int64_t g = P.kv_head_of(first_q_head);
      const float* keys = P.k + (b * P.kv_heads + g) * P.key_len * d;
      const float* values = P.v + (b * P.kv_heads + g) * P.key_len * d;
      const float* beta = P.beta ? P.beta + (b * P.bias_heads + bias_head) * P.key_len : nullptr;
      const std::int32_t* death = P.death ? P.death + (b * P.bias_heads + bias_head) * P.key_len : nullptr;

      gathered.clear();
      const float* keys_used = keys;
      const float* values_used = values;
      const float* beta_used = beta;
      std::int64_t n = p_last + 1;  // dense: the whole causal prefix, no copy
      if (death) {
        for (std::int64_t j = 0; j <= p_last; ++j)
          if (death[j] > std::max(j, p0)) gathered.push_back(static_cast<std::int32_t>(j));
        n = static_cast<std::int64_t>(gathered.size());
        keys_g.resize(static_cast<std::size_t>(n * d));
        values_g.resize(static_cast<std::size_t>(n * d));
        beta_g.resize(static_cast<std::size_t>(n));
        for (std::int64_t t = 0; t < n; ++t) {
          std::copy_n(keys + gathered[t] * d, d, keys_g.begin() + t * d);
          std::copy_n(values + gathered[t] * d, d, values_g.begin() + t * d);
          beta_g[t] = beta ? beta[gathered[t]] : 0.0f;
        }
        keys_used = keys_g.data();
        values_used = values_g.data();
        beta_used = beta ? beta_g.data() : nullptr;
      }
      scores.resize(static_cast<std::size_t>(rows * n));
      row_weights.resize(static_cast<std::size_t>(n));
      for (std::int64_t hh = 0; hh < (P.bias_heads == P.q_heads ? 1 : heads_per_bias); ++hh) {
        const std::int64_t h = first_q_head + hh;
        const float* q = P.q + ((b * P.q_heads + h) * P.q_len + r0) * d;
        matmul_nt_f32_serial(q, rows, d, keys_used, n, scores.data());
        local_scores += rows * n;
        for (std::int64_t r = 0; r < rows; ++r) {
          const std::int64_t position = p0 + r;
          float* row_scores = scores.data() + r * n;
          float max_score = -std::numeric_limits<float>::infinity();
          for (std::int64_t t = 0; t < n; ++t) {
            const std::int64_t j = death ? gathered[t] : t;
            if (!entry_kept(death ? death : nullptr, position, j)) {
              row_weights[t] = 0.0f;
              row_scores[t] = -std::numeric_limits<float>::infinity();
              continue;
            }
            row_scores[t] = row_scores[t] * P.scale + (beta_used ? beta_used[t] : 0.0f);
            max_score = std::max(max_score, row_scores[t]);
            ++local_kept;
          }
          float sum = 0.0f;
          for (std::int64_t t = 0; t < n; ++t) {
            row_weights[t] = row_scores[t] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(row_scores[t] - max_score);
            sum += row_weights[t];
          }
          float* o = out + ((b * P.q_heads + h) * P.q_len + r0 + r) * d;
          std::fill_n(o, d, 0.0f);
          for (std::int64_t t = 0; t < n; ++t) {
            if (row_weights[t] == 0.0f) continue;
            const float weight = row_weights[t];
            const float* value = values_used + t * d;
            for (std::int64_t c = 0; c < d; ++c) o[c] += weight * value[c];
          }
          const float inverse_sum = sum > 0.0f ? 1.0f / sum : 0.0f;
          for (std::int64_t c = 0; c < d; ++c) o[c] *= inverse_sum;
        }
      }
    }
    score_entries += local_scores;
    kept_entries += local_kept;
  });
  return {score_entries.load(), kept_entries.load()};
}

}  // namespace dmascope
