#include "core/mask/cut_ties.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>

#include "core/base/error.h"

namespace dmascope {

bool CutTies::row_is_tied(std::int64_t position) const {
  return std::binary_search(tied_rows.begin(), tied_rows.end(), position);
}

bool beta_ties(float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); }

namespace {

CutTies shared_cut_ties(std::span<const float> beta, std::int64_t window) {
  const auto key_len = static_cast<std::int64_t>(beta.size());
  CutTies ties;
  if (key_len <= window) return ties;
  // The (w+1) best keys in rank order: the w-th and (w+1)-th are the last two.
  std::vector<std::int32_t> order(beta.size());
  std::iota(order.begin(), order.end(), 0);
  std::nth_element(order.begin(), order.begin() + window, order.end(), [&](std::int32_t a, std::int32_t b) {
    return key_ranks_before(beta[a], a, beta[b], b);
  });
  const std::int32_t first_out = order[static_cast<std::size_t>(window)];
  const float cut_value = beta[first_out];
  // The worst kept key is the one ranked last among the first w; it ties with the first key left out or not at all.
  const std::int32_t last_in = *std::max_element(
      order.begin(), order.begin() + window,
      [&](std::int32_t a, std::int32_t b) { return key_ranks_before(beta[a], a, beta[b], b); });
  if (!beta_ties(beta[last_in], cut_value)) return ties;
  std::int64_t first_tied = 0;
  while (!beta_ties(beta[static_cast<std::size_t>(first_tied)], cut_value)) ++first_tied;
  for (std::int64_t p = first_tied; p < key_len; ++p) ties.tied_rows.push_back(static_cast<std::int32_t>(p));
  return ties;
}

}  // namespace

CutTies dma_cut_ties(std::span<const float> beta, std::int64_t window, MaskVariant variant) {
  if (window < 1) fail("DMA window must be at least 1 key, got {}", window);
  if (beta.size() > static_cast<std::size_t>(INT32_MAX)) fail("sequence of {} keys is too long", beta.size());
  if (variant == MaskVariant::SharedTopK) return shared_cut_ties(beta, window);

  // The same sweep as dma_death_indices: the kept set as a heap with its worst key on top. A key that leaves the set
  // (or never enters it) never returns, so the best key left out is a running maximum: at row p the w-th best key is
  // the heap's top and the (w+1)-th is that maximum.
  const auto key_len = static_cast<std::int32_t>(beta.size());
  auto worse_on_top = [&](std::int32_t a, std::int32_t b) { return key_ranks_before(beta[a], a, beta[b], b); };
  std::priority_queue<std::int32_t, std::vector<std::int32_t>, decltype(worse_on_top)> kept(worse_on_top);
  std::int32_t best_left_out = -1;
  CutTies ties;
  for (std::int32_t p = 0; p < key_len; ++p) {
    kept.push(p);
    if (static_cast<std::int64_t>(kept.size()) <= window) continue;  // the whole prefix is kept: no cut
    const std::int32_t dropped = kept.top();
    kept.pop();
    if (best_left_out < 0 || key_ranks_before(beta[dropped], dropped, beta[best_left_out], best_left_out))
      best_left_out = dropped;
    if (beta_ties(beta[kept.top()], beta[best_left_out])) ties.tied_rows.push_back(p);
  }
  return ties;
}

std::vector<CutTies> dma_cut_ties_per_head(std::span<const float> beta, std::int64_t heads, std::int64_t window,
                                           MaskVariant variant) {
  if (heads < 1 || beta.size() % static_cast<std::size_t>(heads) != 0)
    fail("cut ties: β of {} values is not {} heads of equal length", beta.size(), heads);
  const std::size_t length = beta.size() / static_cast<std::size_t>(heads);
  std::vector<CutTies> ties;
  for (std::int64_t head = 0; head < heads; ++head)
    ties.push_back(dma_cut_ties(beta.subspan(static_cast<std::size_t>(head) * length, length), window, variant));
  return ties;
}

}  // namespace dmascope
