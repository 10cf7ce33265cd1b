// Rotary position embeddings exactly as transformers 5.17 computes them for Doge: inverse frequencies in float32 from
// a (possibly rescaled) base, angles = position · inv_freq, the rotate-half form on non-interleaved halves.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/doge_config.h"

namespace dmascope {

// inv_freq[k] = 1 / base^(2k/d), k < d/2. Dynamic NTK rescales the base for seq_len > max_position_embeddings:
// base = θ·((f·s/M) − (f − 1))^(d/(d−2)), s = max(seq_len, M), M = max_position_embeddings (as transformers does,
// not original_max_position_embeddings). Linear scaling divides the frequencies by the factor.
std::vector<float> rope_inverse_frequencies(const RopeSettings& rope, std::int64_t head_dim,
                                            std::int64_t max_position_embeddings, std::int64_t seq_len);

// Rotates `heads` vectors of length head_dim at each of `positions` positions, in place. x is [positions, heads, d]
// (the layout a projection produces); position p uses angle (first_position + p)·inv_freq.
void apply_rope(float* x, std::int64_t positions, std::int64_t heads, std::int64_t head_dim,
                const std::vector<float>& inverse_frequencies, std::int64_t first_position = 0);

}  // namespace dmascope
