// CDMoE's routed experts (dma-spec §3.5) in two stages, as transformers 5.17 computes them: the routing (router
// logits → each row's experts and weights) and the experts' weighted sum added to the shared expert's output. The CPU
// forward (core/model/doge_forward.cpp) runs both in fp32; they are also the CPU twins of the GPU forwards' kernels
// (kernels/cdmoe_kernels.cuh), whose bf16 forward rounds where a bf16 model does (CdmoeRounding::Bf16).
#pragma once

#include <cstdint>

namespace dmascope {

// Where the routed experts round their intermediate values.
enum class CdmoeRounding {
  Fp32,  // none: the CPU forward and the fp32 GPU forward
  // To bf16 wherever transformers' CDMoE rounds when the model runs in bf16, each op computed in fp32 first (torch's
  // bf16 ops): the pair sums, the softmax's output, the renormalisation's sum and quotient, each expert's dot product,
  // its silu and its product with the weight, the weighted sum of the up vectors, and the addition to the shared
  // expert's output. The inputs (router logits, h, the embeddings, y) must hold bf16 values.
  Bf16,
};

struct CdmoeRouting {
  std::int64_t tokens = 0;             // N = B·L rows
  std::int64_t keys = 0;               // K = floor(sqrt(num_experts)): the width of each router part
  std::int64_t experts_per_token = 0;  // num_experts_per_tok
  bool norm_topk_prob = false;         // renormalise the softmax weights (they already sum to 1, up to rounding)
};

// Stage 1. router_logits is router_gate(h), [N, 2K] token-major, read as transformers reads it: a raw view [2, N, K],
// so row r's part 0 is router_logits + r·K and its part 1 router_logits + (N + r)·K (row r's experts come from other
// tokens' logits). Per row: each part sorted (value descending), all K² pair sums s_x[a] + s_y[b] with expert
// i_x[a]·K + i_y[b], the experts_per_token best sums (flat index a·K + b breaks ties), softmax over them. Writes
// expert_ids [N, experts_per_token] (best first) and routing_weights [N, experts_per_token].
// Order everywhere: larger value first, ties to the lower index, as torch.topk on CUDA (where the fixtures' goldens
// are computed); NaN ranks first, as torch.topk ranks it (key_ranks_before, core/mask/dma_mask.h).
void cdmoe_route(const float* router_logits, const CdmoeRouting& shape, CdmoeRounding rounding,
                 std::int32_t* expert_ids, float* routing_weights);

// Stage 2. y[r, :] += Σ_t silu(down_embed[e]·h[r, :]) · routing_weights[r, t] · up_embed[e] for e = expert_ids[r, t]:
// h, y [N, D]; down_embed, up_embed [num_experts, D]. y holds the shared expert's output. In fp32 the terms are added
// into y one expert after another, in t order; in bf16 their sum is formed first and added once (transformers'
// `hidden_states + experts_states`).
void cdmoe_add_experts(const float* h, std::int64_t tokens, std::int64_t hidden, const float* down_embed,
                       const float* up_embed, const std::int32_t* expert_ids, const float* routing_weights,
                       std::int64_t experts_per_token, CdmoeRounding rounding, float* y);

}  // namespace dmascope
