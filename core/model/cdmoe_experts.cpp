#include "core/model/cdmoe_experts.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <vector>

#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/formats/tensor.h"
#include "core/mask/dma_mask.h"
#include "core/model/linear.h"

namespace dmascope {

namespace {

// Indices of the k best values, best first, in the order of key_ranks_before (larger first, ties to the lower index,
// NaN first): a strict weak order on any input, so partial_sort is well defined.
std::vector<std::int64_t> top_k_descending(std::span<const float> values, std::int64_t k) {
  std::vector<std::int64_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](std::int64_t a, std::int64_t b) {
    return key_ranks_before(values[a], a, values[b], b);
  });
  order.resize(static_cast<std::size_t>(k));
  return order;
}

void check_routing(const CdmoeRouting& shape) {
  const std::int64_t K = shape.keys, top = shape.experts_per_token;
  if (shape.tokens < 0) fail("CDMoE routing: {} tokens", shape.tokens);
  if (K < 1 || K > 46340)  // K² expert ids must fit an int32
    fail("CDMoE routing: {} keys per router part (num_experts gives K = floor(sqrt(num_experts))); expected 1..46340",
         K);
  if (top < 1 || top > K * K)
    fail("CDMoE routing: num_experts_per_tok = {} is outside 1..{} (the K² = {}² experts product keys reach)", top,
         K * K, K);
}

}  // namespace

void cdmoe_route(const float* router_logits, const CdmoeRouting& shape, CdmoeRounding rounding,
                 std::int32_t* expert_ids, float* routing_weights) {
  check_routing(shape);
  const std::int64_t N = shape.tokens, K = shape.keys, top = shape.experts_per_token;
  const bool bf16 = rounding == CdmoeRounding::Bf16;
  parallel_for(N, 4, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> sums(static_cast<std::size_t>(K * K));
    std::vector<std::int64_t> expert_of(static_cast<std::size_t>(K * K));
    std::vector<float> weights(static_cast<std::size_t>(top));
    for (std::int64_t r = begin; r < end; ++r) {
      const std::span<const float> part_x(router_logits + r * K, static_cast<std::size_t>(K));        // part 0, row r
      const std::span<const float> part_y(router_logits + (N + r) * K, static_cast<std::size_t>(K));  // part 1, row r
      const auto ix = top_k_descending(part_x, K), iy = top_k_descending(part_y, K);
      for (std::int64_t a = 0; a < K; ++a)
        for (std::int64_t c = 0; c < K; ++c) {
          const float sum = part_x[ix[a]] + part_y[iy[c]];
          sums[a * K + c] = bf16 ? round_to_bf16(sum) : sum;
          expert_of[a * K + c] = ix[a] * K + iy[c];
        }
      const auto chosen = top_k_descending(sums, top);
      // Softmax as torch computes it (in fp32 for a bf16 input too): exp(s − max) / Σ exp(s − max).
      const float max_score = sums[chosen[0]];
      float total = 0.0f;
      for (std::int64_t t = 0; t < top; ++t) total += weights[t] = std::exp(sums[chosen[t]] - max_score);
      for (auto& weight : weights) weight = bf16 ? round_to_bf16(weight / total) : weight / total;
      if (shape.norm_topk_prob) {  // `routing_weights /= routing_weights.sum()`: a bf16 sum, then a bf16 quotient
        float renorm = 0.0f;
        for (float weight : weights) renorm += weight;
        if (bf16) renorm = round_to_bf16(renorm);
        for (auto& weight : weights) weight = bf16 ? round_to_bf16(weight / renorm) : weight / renorm;
      }
      for (std::int64_t t = 0; t < top; ++t) {
        expert_ids[r * top + t] = static_cast<std::int32_t>(expert_of[chosen[t]]);
        routing_weights[r * top + t] = weights[t];
      }
    }
  });
}

void cdmoe_add_experts(const float* h, std::int64_t tokens, std::int64_t hidden, const float* down_embed,
                       const float* up_embed, const std::int32_t* expert_ids, const float* routing_weights,
                       std::int64_t experts_per_token, CdmoeRounding rounding, float* y) {
  const std::int64_t D = hidden, top = experts_per_token;
  const bool bf16 = rounding == CdmoeRounding::Bf16;
  parallel_for(tokens, 4, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> routed(static_cast<std::size_t>(D));
    for (std::int64_t r = begin; r < end; ++r) {
      const float* hr = h + r * D;
      float* yr = y + r * D;
      std::fill(routed.begin(), routed.end(), 0.0f);
      for (std::int64_t t = 0; t < top; ++t) {
        const std::int64_t expert = expert_ids[r * top + t];
        float dot = 0.0f;
        for (std::int64_t c = 0; c < D; ++c) dot += down_embed[expert * D + c] * hr[c];
        const float weight = routing_weights[r * top + t];
        const float activation =
            bf16 ? round_to_bf16(round_to_bf16(silu(round_to_bf16(dot))) * weight) : silu(dot) * weight;
        float* sum = bf16 ? routed.data() : yr;
        for (std::int64_t c = 0; c < D; ++c) sum[c] += activation * up_embed[expert * D + c];
      }
      if (bf16)
        for (std::int64_t c = 0; c < D; ++c) yr[c] = round_to_bf16(yr[c] + round_to_bf16(routed[c]));
    }
  });
}

}  // namespace dmascope
