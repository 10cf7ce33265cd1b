#include "core/lab/kept_rows.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "core/base/error.h"
#include "core/lab/dam.h"
#include "core/mask/dma_mask.h"

namespace dmascope {

namespace {

float dot(const float* a, const float* b, std::int64_t n) {
  float sum = 0.0f;
  for (std::int64_t t = 0; t < n; ++t) sum += a[t] * b[t];
  return sum;
}

// Ranks candidate a before b: larger score first (NaN first, as torch.topk treats it as the largest), ties to the
// lower index. A strict weak order, so nth_element and sort are well defined on any input.
bool ranks_before(float score_a, std::int32_t a, float score_b, std::int32_t b) {
  const bool nan_a = std::isnan(score_a), nan_b = std::isnan(score_b);
  if (nan_a != nan_b) return nan_a;
  if (!nan_a && score_a != score_b) return score_a > score_b;
  return a < b;
}

// The `count` best of the keys 0 … n − 1 by `score_of`, appended to keys in ascending index order. nth_element
// finds the count-th best (the pivot); since ranks_before is a total order, the keys ranking before it plus the
// pivot are exactly `count`, and one ascending scan collects them already sorted (no O(w log w) sort per row).
template <class ScoreOf>
void append_top_of_prefix(std::vector<std::int32_t>& scratch, std::int64_t n, std::int64_t count,
                          const ScoreOf& score_of, std::vector<std::int32_t>& keys) {
  if (count >= n) {
    for (std::int64_t j = 0; j < n; ++j) keys.push_back(static_cast<std::int32_t>(j));
    return;
  }
  if (count <= 0) return;
  const auto before = [&](std::int32_t a, std::int32_t b) { return ranks_before(score_of(a), a, score_of(b), b); };
  scratch.resize(static_cast<std::size_t>(n));
  std::iota(scratch.begin(), scratch.end(), 0);
  std::nth_element(scratch.begin(), scratch.begin() + (count - 1), scratch.end(), before);
  const std::int32_t pivot = scratch[static_cast<std::size_t>(count - 1)];
  const float pivot_score = score_of(pivot);
  for (std::int32_t j = 0; j < static_cast<std::int32_t>(n); ++j)
    if (j == pivot || ranks_before(score_of(j), j, pivot_score, pivot)) keys.push_back(j);
}

// Oracle's top `count` of the scores s[0 … n − 1] in ascending index order: nth_element on the plain floats finds
// the count-th largest score t; every key above t is kept and keys equal to t fill the rest lowest index first (the
// tie rule). Rows holding a NaN take append_top_of_prefix (torch.topk ranks NaN first).
void append_top_scores(std::vector<float>& scratch, std::vector<std::int32_t>& index_scratch, const float* s,
                       std::int64_t n, std::int64_t count, std::vector<std::int32_t>& keys) {
  if (count >= n) {
    for (std::int64_t j = 0; j < n; ++j) keys.push_back(static_cast<std::int32_t>(j));
    return;
  }
  if (count <= 0) return;
  scratch.assign(s, s + n);
  if (std::any_of(scratch.begin(), scratch.end(), [](float x) { return std::isnan(x); })) {
    append_top_of_prefix(index_scratch, n, count, [s](std::int32_t j) { return s[j]; }, keys);
    return;
  }
  std::nth_element(scratch.begin(), scratch.begin() + (count - 1), scratch.end(), std::greater<float>());
  const float threshold = scratch[static_cast<std::size_t>(count - 1)];
  std::int64_t above = 0;
  for (std::int64_t j = 0; j < n; ++j) above += s[j] > threshold;
  std::int64_t ties_left = count - above;
  for (std::int64_t j = 0; j < n; ++j)
    if (s[j] > threshold || (s[j] == threshold && ties_left-- > 0)) keys.push_back(static_cast<std::int32_t>(j));
}

void append_range(std::vector<std::int32_t>& keys, std::int64_t begin, std::int64_t end) {
  for (std::int64_t j = begin; j < end; ++j) keys.push_back(static_cast<std::int32_t>(j));
}

}  // namespace

KeptSetBuilder::KeptSetBuilder(const LabHead& head) : head_(head) {
  head_.validate();
  const std::int64_t L = head_.length, d = head_.head_dim;
  nsa_block_ = std::min(kNsaBlockKeys, head_.window);
  const std::int64_t blocks = (L + nsa_block_ - 1) / nsa_block_;
  nsa_pooled_keys_.assign(static_cast<std::size_t>(blocks * d), 0.0f);
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t begin = blk * nsa_block_, end = std::min(L, begin + nsa_block_);
    float* pooled = nsa_pooled_keys_.data() + blk * d;
    for (std::int64_t c = 0; c < d; ++c) {
      double sum = 0.0;
      for (std::int64_t j = begin; j < end; ++j) sum += head_.key[static_cast<std::size_t>(j * d + c)];
      pooled[c] = static_cast<float>(sum / static_cast<double>(end - begin));
    }
  }
}

KeptRows KeptSetBuilder::rows(Strategy strategy, std::int64_t row_begin, std::int64_t row_end,
                              std::span<const float> scores, std::int64_t scores_stride) const {
  const std::int64_t L = head_.length, w = head_.window, d = head_.head_dim;
  if (row_begin < 0 || row_end > L || row_begin > row_end)
    fail("kept rows: rows [{}, {}) outside [0, {})", row_begin, row_end, L);
  if (strategy == Strategy::Dam && head_.dam == nullptr)
    fail("kept rows: strategy dam needs a calibrated DAM mask of this head");
  if (strategy == Strategy::Dma && head_.dma_death.empty()) fail("kept rows: strategy dma needs dma_death");
  if (strategy == Strategy::Shared && head_.shared_death.empty()) fail("kept rows: strategy shared needs shared_death");
  if (!scores.empty() && (scores_stride < row_end ||
                          scores.size() < static_cast<std::size_t>((row_end - row_begin - 1) * scores_stride + row_end)))
    fail("kept rows: scores span too small for rows [{}, {})", row_begin, row_end);
  KeptRows kept;
  kept.row_begin = row_begin;
  kept.offsets.reserve(static_cast<std::size_t>(row_end - row_begin + 1));

  // dma and shared: the keys alive somewhere in the chunk (at most w + chunk rows), filtered per row.
  std::vector<std::int32_t> alive;
  if (strategy == Strategy::Dma || strategy == Strategy::Shared) {
    const auto death = strategy == Strategy::Dma ? head_.dma_death : head_.shared_death;
    for (std::int64_t j = 0; j < row_end; ++j)
      if (death[static_cast<std::size_t>(j)] > std::max(row_begin, j)) alive.push_back(static_cast<std::int32_t>(j));
  }
  std::vector<std::int32_t> candidates;
  std::vector<float> row_scores, score_scratch;
  for (std::int64_t i = row_begin; i < row_end; ++i) {
    const bool whole_prefix = i + 1 <= w;
    switch (strategy) {
      case Strategy::Dma:
      case Strategy::Shared: {
        const auto death = strategy == Strategy::Dma ? head_.dma_death : head_.shared_death;
        for (std::int32_t j : alive)
          if (dma_keeps(death, i, j)) kept.keys.push_back(j);
        break;
      }
      case Strategy::Swa: append_range(kept.keys, std::max<std::int64_t>(0, i - w + 1), i + 1); break;
      case Strategy::Sinks: {
        if (whole_prefix) {
          append_range(kept.keys, 0, i + 1);
          break;
        }
        const std::int64_t sinks = std::min(kSinkKeys, w - 1);
        append_range(kept.keys, 0, sinks);
        append_range(kept.keys, i - (w - sinks) + 1, i + 1);
        break;
      }
      case Strategy::Oracle: {
        if (whole_prefix) {
          append_range(kept.keys, 0, i + 1);
          break;
        }
        const float* s = nullptr;
        if (!scores.empty()) {
          s = scores.data() + (i - row_begin) * scores_stride;
        } else {
          row_scores.resize(static_cast<std::size_t>(i + 1));
          const float* q = head_.query.data() + i * d;
          for (std::int64_t j = 0; j <= i; ++j)
            row_scores[static_cast<std::size_t>(j)] =
                dot(q, head_.key.data() + j * d, d) * head_.scale + head_.beta[static_cast<std::size_t>(j)];
          s = row_scores.data();
        }
        append_top_scores(score_scratch, candidates, s, i + 1, w, kept.keys);
        break;
      }
      case Strategy::Nsa: {
        if (whole_prefix) {
          append_range(kept.keys, 0, i + 1);
          break;
        }
        const std::int64_t local = i / nsa_block_, others = w / nsa_block_;
        row_scores.resize(static_cast<std::size_t>(local));
        const float* q = head_.query.data() + i * d;
        for (std::int64_t blk = 0; blk < local; ++blk)
          row_scores[static_cast<std::size_t>(blk)] = dot(q, nsa_pooled_keys_.data() + blk * d, d) * head_.scale;
        std::vector<std::int32_t> blocks;
        append_top_of_prefix(candidates, local, others,
                             [&](std::int32_t blk) { return row_scores[static_cast<std::size_t>(blk)]; }, blocks);
        for (std::int32_t blk : blocks) append_range(kept.keys, blk * nsa_block_, (blk + 1) * nsa_block_);
        append_range(kept.keys, local * nsa_block_, i + 1);
        break;
      }
      case Strategy::Dam: {
        head_.dam->row_keys(i, candidates);
        kept.keys.insert(kept.keys.end(), candidates.begin(), candidates.end());
        break;
      }
    }
    kept.offsets.push_back(static_cast<std::int64_t>(kept.keys.size()));
  }
  return kept;
}

TileGather tile_gather(const KeptRows& rows) {
  TileGather gather;
  gather.row_begin = rows.row_begin;
  gather.row_end = rows.row_end();
  gather.keys = rows.keys;
  std::sort(gather.keys.begin(), gather.keys.end());
  gather.keys.erase(std::unique(gather.keys.begin(), gather.keys.end()), gather.keys.end());
  gather.words_per_row = (static_cast<std::int64_t>(gather.keys.size()) + 63) / 64;
  gather.row_bits.assign(static_cast<std::size_t>(rows.rows() * gather.words_per_row), 0);
  for (std::int64_t i = gather.row_begin; i < gather.row_end; ++i) {
    std::size_t slot = 0;
    std::uint64_t* bits = gather.row_bits.data() + (i - gather.row_begin) * gather.words_per_row;
    for (std::int32_t j : rows.row(i)) {
      while (gather.keys[slot] != j) ++slot;  // both ascending, j is in the union
      bits[slot / 64] |= std::uint64_t{1} << (slot % 64);
    }
  }
  return gather;
}

}  // namespace dmascope
