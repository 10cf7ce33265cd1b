// The number formats attention runs in, one type for the kernels, the engine, the app and the CLI: the CPU kernels
// compute in fp32; the CUDA attention kernels take bf16 or fp16 inputs (and accumulate in fp32).
#pragma once

#include <string_view>

namespace dmascope {

enum class Precision { F32, BF16, F16 };

// "fp32" | "bf16" | "fp16": the names the CLI's --precision, the session files and the bench JSON use.
std::string_view precision_name(Precision precision);
// Throws Error naming the text and the accepted names.
Precision precision_from_name(std::string_view name);

}  // namespace dmascope
