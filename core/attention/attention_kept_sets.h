// Attention over explicit kept sets: for every query head, each row lists the keys it attends to (CSR), instead of
// DMA's death indices. The forward's mask seam (ForwardOptions::kept_sets) runs the attention step with it, so that
// any strategy's kept sets — the mask lab's, a test's brute-force set — can replace DMA's mask inside a whole model:
//     O[h, i] = Σ_{j∈S_h(i)} softmax_{j∈S_h(i)}(q[h, i]·k[g(h), j] · scale + β[b(h), j]) v[g(h), j]
// An empty row outputs zeros. fp32 products, the softmax sum in fp64 (as the reference's rows).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/attention/attention_cpu.h"

namespace dmascope {

// One query head's kept sets over rows [0, L): row i keeps keys[offsets[i] .. offsets[i + 1]), each ≤ i.
struct KeptKeySets {
  std::vector<std::int64_t> offsets{0};  // L + 1 entries
  std::vector<std::int32_t> keys;
  std::int64_t rows() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
  std::span<const std::int32_t> row(std::int64_t i) const {
    const auto r = static_cast<std::size_t>(i);
    return {keys.data() + offsets[r], static_cast<std::size_t>(offsets[r + 1] - offsets[r])};
  }
};

// The kept sets a DMA mask's death indices describe (keep(i, j) ⇔ j ≤ i < death[j]), keys ascending in each row, in
// O(L + kept entries): what a forward run on another forward's masks (ForwardOptions::kept_sets) attends over.
KeptKeySets kept_sets_of_death(std::span<const std::int32_t> death);
// The same for a layer's death indices [bias heads, L] (a LayerCapture's death), one set per query head of `problem`.
std::vector<KeptKeySets> kept_sets_of_layer_death(std::span<const std::int32_t> death, const AttentionProblem& problem);

// Error naming the head and row whose set does not fit the problem (wrong row count, a key outside [0, i]).
void validate_kept_sets(const AttentionProblem& problem, std::span<const KeptKeySets> heads);

// heads: one per query head (batch 1). out: [q_heads, q_len, head_dim]. Returns the work done (every listed pair).
AttentionWork attention_kept_sets(const AttentionProblem& problem, std::span<const KeptKeySets> heads, float* out);

}  // namespace dmascope
