// `dmascope-cli bench --save-output FILE`: one bench row's inputs and its DMA output, for a reference computed outside
// the program (tools/bench_peers.py checks the graph-replayed output at 32K and 128K tokens against an fp64 masked
// softmax on sampled rows). Only the sampled query rows of q and of the output are written; k, v and β in full, since
// a row attends to its whole causal prefix.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "engine/timing/bench_run.h"

namespace dmascope::engine {

// `count` query positions spread evenly over [0, length), always including the last one (the longest prefix);
// all of them when count >= length.
std::vector<std::int64_t> sampled_rows(std::int64_t length, std::int64_t count);

// Safetensors at `path` (atomic; an existing file only with `force`):
//   rows [n] I64; q_rows [B, Hq, n, d] and k, v [B, Hkv, L, d] in the kernel's input precision (what it read);
//   beta [B, Hb, L] F32; out_rows [B, Hq, n, d] F32 (the kernel's bf16/fp16 output, widened exactly).
// Metadata: len, window, heads, dim, batch, bias, seed, precision, mask_variant, tie_rule, device.
// dma_output: LayerTiming::dma_output of a run of exactly these inputs.
void write_bench_output(const std::filesystem::path& path, const BenchSetting& setting, const AttentionInputs& inputs,
                        const LayerTiming& timing, std::int64_t sample_count, bool force);

}  // namespace dmascope::engine
