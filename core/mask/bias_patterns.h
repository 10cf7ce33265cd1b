// Synthetic dynamic biases β for benchmarks and demos, one value per (segment, key):
//   Random:    β = exp(N(0,1)) per key, i.i.d. — every 64-key tile holds some kept key, the worst case for tile skipping.
//   Clustered: β = exp(2·b + 0.1·N(0,1)) with b ~ N(0,1) drawn per block of 64 keys — kept keys gather in few blocks,
//              the best case for block-sparse kernels (flash-sparse-attn's "block-clustered" benchmark rows).
// A bias taken from a real model comes from doge_layer_bias (core/model/doge_forward.h): the first layer's β on given ids.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace dmascope {

enum class BiasPattern { Random, Clustered };
BiasPattern bias_pattern_from_name(std::string_view name);  // "random" | "clustered"; throws otherwise

std::vector<float> make_bias(BiasPattern pattern, std::int64_t segments, std::int64_t key_len, std::uint64_t seed);

// FLOPs counted as in the FlashAttention benchmarks: 4·d per (query, key) pair (QKᵀ and PV, 2 each).
inline double attention_flops(double pairs, std::int64_t head_dim) { return 4.0 * pairs * static_cast<double>(head_dim); }
// Causal pairs of one head: Σ over query rows of the keys they may see (bottom-right aligned).
double causal_pairs(std::int64_t q_len, std::int64_t key_len);

}  // namespace dmascope
