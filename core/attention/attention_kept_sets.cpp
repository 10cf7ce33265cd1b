#include "core/attention/attention_kept_sets.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/base/error.h"
#include "core/base/parallel.h"

namespace dmascope {

KeptKeySets kept_sets_of_death(std::span<const std::int32_t> death) {
  const auto L = static_cast<std::int64_t>(death.size());
  const auto end_of = [&](std::int64_t j) {
    return std::clamp<std::int64_t>(death[static_cast<std::size_t>(j)], j, L);
  };
  // Rows kept per row by a difference array over each key's run of rows [j, end), then the keys in ascending order.
  std::vector<std::int64_t> starts(static_cast<std::size_t>(L) + 1, 0);
  for (std::int64_t j = 0; j < L; ++j) {
    ++starts[static_cast<std::size_t>(j)];
    --starts[static_cast<std::size_t>(end_of(j))];
  }
  KeptKeySets sets;
  sets.offsets.assign(static_cast<std::size_t>(L) + 1, 0);
  std::int64_t alive = 0;
  for (std::int64_t i = 0; i < L; ++i) {
    alive += starts[static_cast<std::size_t>(i)];
    sets.offsets[static_cast<std::size_t>(i) + 1] = sets.offsets[static_cast<std::size_t>(i)] + alive;
  }
  sets.keys.resize(static_cast<std::size_t>(sets.offsets.back()));
  std::vector<std::int64_t> cursor(sets.offsets.begin(), sets.offsets.end() - 1);
  for (std::int64_t j = 0; j < L; ++j)
    for (std::int64_t i = j, end = end_of(j); i < end; ++i)
      sets.keys[static_cast<std::size_t>(cursor[static_cast<std::size_t>(i)]++)] = static_cast<std::int32_t>(j);
  return sets;
}

std::vector<KeptKeySets> kept_sets_of_layer_death(std::span<const std::int32_t> death,
                                                  const AttentionProblem& problem) {
  const std::int64_t L = problem.key_len;
  if (static_cast<std::int64_t>(death.size()) != problem.bias_heads * L)
    fail("kept sets of a layer's death indices: {} indices for {} bias heads of {} keys", death.size(),
         problem.bias_heads, L);
  std::vector<KeptKeySets> per_bias_head;
  for (std::int64_t b = 0; b < problem.bias_heads; ++b)
    per_bias_head.push_back(
        kept_sets_of_death(death.subspan(static_cast<std::size_t>(b * L), static_cast<std::size_t>(L))));
  std::vector<KeptKeySets> heads;
  for (std::int64_t h = 0; h < problem.q_heads; ++h)
    heads.push_back(per_bias_head[static_cast<std::size_t>(problem.bias_head_of(h))]);
  return heads;
}

void validate_kept_sets(const AttentionProblem& problem, std::span<const KeptKeySets> heads) {
  problem.validate();
  if (problem.batch != 1) fail("attention over kept sets: batch {} (only batch 1)", problem.batch);
  if (problem.q_len != problem.key_len)
    fail("attention over kept sets: {} query rows and {} keys (prefill only: equal)", problem.q_len, problem.key_len);
  if (static_cast<std::int64_t>(heads.size()) != problem.q_heads)
    fail("attention over kept sets: {} kept sets for {} query heads", heads.size(), problem.q_heads);
  for (std::size_t h = 0; h < heads.size(); ++h) {
    const KeptKeySets& sets = heads[h];
    if (sets.rows() != problem.q_len || sets.offsets.front() != 0 ||
        sets.offsets.back() != static_cast<std::int64_t>(sets.keys.size()))
      fail("attention over kept sets: head {} lists {} rows (offsets {} … {} over {} keys), expected {} rows", h,
           sets.rows(), sets.offsets.front(), sets.offsets.back(), sets.keys.size(), problem.q_len);
    for (std::int64_t i = 0; i < sets.rows(); ++i) {
      if (sets.offsets[static_cast<std::size_t>(i + 1)] < sets.offsets[static_cast<std::size_t>(i)])
        fail("attention over kept sets: head {} row {} has decreasing offsets", h, i);
      for (std::int32_t j : sets.row(i))
        if (j < 0 || j > i) fail("attention over kept sets: head {} row {} keeps key {} outside [0, {}]", h, i, j, i);
    }
  }
}

AttentionWork attention_kept_sets(const AttentionProblem& problem, std::span<const KeptKeySets> heads, float* out) {
  validate_kept_sets(problem, heads);
  const std::int64_t H = problem.q_heads, L = problem.q_len, d = problem.head_dim;
  constexpr std::int64_t kRowsPerTask = 64;
  const std::int64_t row_blocks = (L + kRowsPerTask - 1) / kRowsPerTask;
  parallel_for(H * row_blocks, 1, [&](std::int64_t task_begin, std::int64_t task_end) {
    std::vector<float> weights;
    std::vector<double> accumulator(static_cast<std::size_t>(d));
    for (std::int64_t task = task_begin; task < task_end; ++task) {
      const std::int64_t h = task / row_blocks, block = task % row_blocks;
      const std::int64_t g = problem.kv_head_of(h), b = problem.bias_head_of(h);
      const float* q = problem.q + h * L * d;
      const float* k = problem.k + g * L * d;
      const float* v = problem.v + g * L * d;
      const float* beta = problem.beta != nullptr ? problem.beta + b * L : nullptr;
      const KeptKeySets& sets = heads[static_cast<std::size_t>(h)];
      for (std::int64_t i = block * kRowsPerTask; i < std::min(L, (block + 1) * kRowsPerTask); ++i) {
        float* o = out + (h * L + i) * d;
        const auto row = sets.row(i);
        weights.resize(row.size());
        float top = -std::numeric_limits<float>::infinity();
        for (std::size_t s = 0; s < row.size(); ++s) {
          const float* key = k + row[s] * d;
          float dot = 0.0f;
          for (std::int64_t c = 0; c < d; ++c) dot += q[i * d + c] * key[c];
          weights[s] = dot * problem.scale + (beta != nullptr ? beta[row[s]] : 0.0f);
          top = std::max(top, weights[s]);
        }
        std::fill(accumulator.begin(), accumulator.end(), 0.0);
        double sum = 0.0;
        for (std::size_t s = 0; s < row.size(); ++s) {
          const double weight = std::exp(static_cast<double>(weights[s]) - top);
          sum += weight;
          const float* value = v + row[s] * d;
          for (std::int64_t c = 0; c < d; ++c) accumulator[static_cast<std::size_t>(c)] += weight * value[c];
        }
        for (std::int64_t c = 0; c < d; ++c)
          o[c] = row.empty() ? 0.0f : static_cast<float>(accumulator[static_cast<std::size_t>(c)] / sum);
      }
    }
  });
  AttentionWork work;
  for (const KeptKeySets& sets : heads) work.score_entries += static_cast<std::int64_t>(sets.keys.size());
  work.kept_entries = work.score_entries;
  return work;
}

}  // namespace dmascope
