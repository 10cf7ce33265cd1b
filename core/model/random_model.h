// Random Doge checkpoints with a chosen shape: for benchmarks (a Doge-20M-shaped model at 2K tokens) and for users who
// want to see what an untrained mask looks like. The bias parameter A is drawn non-zero on purpose: transformers
// initializes it to zero, which gives β ≡ 1 and ties every key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/model/doge_config.h"
#include "core/formats/tensor.h"

namespace dmascope {

// Named shapes: "doge-20m", "doge-60m", "doge-160m", "doge-320m" (the published SmallDoge dimensions), "tiny" (the
// tests' small model).
DogeConfig random_model_preset(const std::string& name);
std::vector<std::string> random_model_preset_names();  // "tiny" first, then the published shapes by size

// Writes config.json and model.safetensors (atomically) into `dir`, creating it. dtype: F32 or BF16. Existing files
// are replaced only with `force` (trained weights must not vanish under a typo); nothing is written when either file
// may not be.
void write_random_doge(const std::filesystem::path& dir, const DogeConfig& config, DType dtype, std::uint64_t seed,
                       bool force = true);

}  // namespace dmascope
