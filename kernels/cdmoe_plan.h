// What the GPU forwards' CDMoE kernels (kernels/cdmoe_kernels.cuh) take, and the launch plan of the routing kernel,
// fixed by the config alone (so one plan serves every run and a captured CUDA graph). Plain C++.
//
// The routing kernel keeps a token's two sorted router parts and its candidate pair sums in shared memory. Only pairs
// (a, b) of sorted positions with (a + 1)·(b + 1) ≤ top can be among the top best sums: the (a + 1)·(b + 1) pairs
// (a' ≤ a, b' ≤ b) all rank at or before (a, b), since both parts are sorted, rounding is monotone and a tie goes to
// the lower flat index a'·K + b'. Those candidates number Σ_a min(K, ⌊top / (a + 1)⌋) ≤ top·(1 + ln top): about 280
// for the published 64 of 16384 experts, instead of K² = 16384.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/model/doge_weights.h"

namespace dmascope::cuda::detail {

// The largest K (router keys per part) the routing kernel sorts: K = 1024 is about a million experts.
inline constexpr std::int64_t kCdmoeMaxKeys = 1024;
// The routing kernel's shared memory at most: under the opt-in limit of every GPU the kernels are built for (sm_80:
// 163 KB, sm_86/sm_89: 99 KB, sm_90: 227 KB).
inline constexpr std::size_t kCdmoeMaxSharedBytes = 96 * 1024;
inline constexpr int kCdmoeThreads = 256;  // both kernels' block

struct CdmoeRoutingPlan {
  int keys = 0;               // K
  int keys_padded = 0;        // K rounded up to a power of two: each part's bitonic sort
  int experts_per_token = 0;  // top = num_experts_per_tok
  int candidates = 0;         // the pairs that can reach the top (above)
  int candidates_padded = 0;  // rounded up to a power of two: their bitonic sort
  bool norm_topk_prob = false;
  // Routing: 8 bytes per sorted key of both parts and per candidate, 4 per chosen expert's exp. The experts kernel
  // needs 8 per chosen expert (its activation and id), never more.
  std::size_t routing_shared_bytes = 0;
  std::size_t experts_shared_bytes = 0;
};

// The plan of a config that cdmoe_unsupported_reason accepts.
CdmoeRoutingPlan cdmoe_routing_plan(const DogeConfig& config);

// Why the GPU CDMoE kernels cannot run this config (naming the config field), or an empty string; "" for a dense
// model.
std::string cdmoe_unsupported_reason(const DogeConfig& config);

// Throws naming the tensor when a CDMoE layer's router_gate, down_embed or up_embed is missing or mis-shaped
// ("GPU forward: model.layers.0.mlp.router_gate.weight of DIR has shape …").
void require_cdmoe_weights(const DogeModel& model, const char* forward_name);

}  // namespace dmascope::cuda::detail
