#include "kernels/cdmoe_plan.h"

#include <algorithm>

#include "core/base/error.h"

namespace dmascope::cuda::detail {

namespace {

std::int64_t next_power_of_two(std::int64_t value) {
  std::int64_t power = 1;
  while (power < value) power *= 2;
  return power;
}

// The pairs (a, b), a, b < K, with (a + 1)·(b + 1) ≤ top (cdmoe_plan.h).
std::int64_t candidate_pairs(std::int64_t keys, std::int64_t top) {
  std::int64_t count = 0;
  for (std::int64_t a = 0; a < std::min(keys, top); ++a) count += std::min(keys, top / (a + 1));
  return count;
}

std::size_t routing_shared_bytes(std::int64_t keys, std::int64_t top) {
  const std::int64_t bytes =
      8 * 2 * next_power_of_two(keys) + 8 * next_power_of_two(candidate_pairs(keys, top)) + 4 * top;
  return static_cast<std::size_t>(bytes);
}

}  // namespace

std::string cdmoe_unsupported_reason(const DogeConfig& config) {
  if (!config.is_moe) return {};
  const std::int64_t K = config.expert_keys(), top = config.num_experts_per_tok;
  if (K < 1 || K > kCdmoeMaxKeys)
    return fmt::format("num_experts = {} gives {} router keys per part (floor(sqrt(num_experts))); the GPU routing "
                       "kernel sorts 1..{}",
                       config.num_experts, K, kCdmoeMaxKeys);
  if (top < 1 || top > K * K)
    return fmt::format("num_experts_per_tok = {} is outside 1..{} (the experts product keys reach)", top, K * K);
  if (const std::size_t bytes = routing_shared_bytes(K, top); bytes > kCdmoeMaxSharedBytes)
    return fmt::format("num_experts_per_tok = {} with {} router keys per part needs {} KB of shared memory in the GPU "
                       "routing kernel (its {} candidate pair sums), over its {} KB",
                       top, K, bytes / 1024, candidate_pairs(K, top), kCdmoeMaxSharedBytes / 1024);
  return {};
}

CdmoeRoutingPlan cdmoe_routing_plan(const DogeConfig& config) {
  if (std::string reason = cdmoe_unsupported_reason(config); !reason.empty()) fail("GPU CDMoE: {}", reason);
  const std::int64_t K = config.expert_keys(), top = config.num_experts_per_tok;
  CdmoeRoutingPlan plan;
  plan.keys = static_cast<int>(K);
  plan.keys_padded = static_cast<int>(next_power_of_two(K));
  plan.experts_per_token = static_cast<int>(top);
  plan.candidates = static_cast<int>(candidate_pairs(K, top));
  plan.candidates_padded = static_cast<int>(next_power_of_two(plan.candidates));
  plan.norm_topk_prob = config.norm_topk_prob;
  plan.routing_shared_bytes = routing_shared_bytes(K, top);
  plan.experts_shared_bytes = static_cast<std::size_t>(8 * top);
  return plan;
}

void require_cdmoe_weights(const DogeModel& model, const char* forward_name) {
  const DogeConfig& c = model.config;
  if (!c.is_moe) return;
  const auto expect = [&](const Tensor& tensor, const Shape& shape, const std::string& name) {
    if (!tensor.defined() || tensor.shape() != shape)
      fail("{}: {} of {} has shape {}, but the config (is_moe, num_experts = {}) needs {}", forward_name, name,
           model.dir.string(), tensor.defined() ? shape_str(tensor.shape()) : "none (missing)", c.num_experts,
           shape_str(shape));
  };
  for (std::size_t layer = 0; layer < model.weights.layers.size(); ++layer) {
    const DogeLayerWeights& l = model.weights.layers[layer];
    const std::string p = fmt::format("model.layers.{}.mlp.", layer);
    expect(l.router_gate, {2 * c.expert_keys(), c.hidden_size}, p + "router_gate.weight");
    expect(l.down_embed, {c.num_experts, c.hidden_size}, p + "down_embed.weight");
    expect(l.up_embed, {c.num_experts, c.hidden_size}, p + "up_embed.weight");
  }
}

}  // namespace dmascope::cuda::detail
