// Each GPU forward kernel of DogeForwardCuda (kernels/doge_forward_cuda.h) alone on host vectors (upload, one launch,
// download), for the tests that compare it with its CPU twin. Test-only: built into the test-support library, never
// into the product. Layouts are the CPU twins'.
#pragma once

#include <cstdint>
#include <vector>

#include "core/attention/attention_cpu.h"
#include "core/model/doge_forward.h"

namespace dmascope::cuda::kernel_check {

std::vector<float> rms_norm(const std::vector<float>& x, std::int64_t rows, std::int64_t features,
                            const std::vector<float>& weight, double eps);
// x [L, heads, d] token-major → rotated, heads-first [heads, L, d].
std::vector<float> rope_heads_first(const std::vector<float>& x, std::int64_t length, std::int64_t heads,
                                    std::int64_t head_dim, const std::vector<float>& inverse_frequencies);
// dt [L, Hb] → β [Hb, L].
std::vector<float> dynamic_bias(const std::vector<float>& dt, std::int64_t length, std::int64_t bias_heads,
                                const std::vector<float>& A, BiasFormula formula);
// x[p, c] = residual[c] · x[p, c] + update[p, c]
std::vector<float> residual(const std::vector<float>& x, const std::vector<float>& residual_weight,
                            const std::vector<float>& update, std::int64_t rows, std::int64_t features);
std::vector<float> silu_gate(const std::vector<float>& gate, const std::vector<float>& up);
// DMA attention in fp32 over the kept keys, q [H, L, d], k/v [Hkv, L, d] heads-first, β/death [Hb, L] → [H, L, d].
std::vector<float> attention(const AttentionProblem& problem, std::int64_t window);
// The tile map of one death array [L] (q_len == key_len).
TileMap tile_map(const std::vector<std::int32_t>& death, TileShape shape);

}  // namespace dmascope::cuda::kernel_check
