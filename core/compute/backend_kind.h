// Where the computation runs. CPU always; CUDA only in a build with the kernels and on a machine with a GPU (the
// backend's unsupported_reason says why not, core/compute/compute_backend.h).
#pragma once

#include <string_view>

namespace dmascope {

enum class Backend { Cpu, Cuda };
std::string_view backend_name(Backend backend);  // "cpu" | "cuda"
Backend backend_from_name(std::string_view name);  // throws Error naming the text

}  // namespace dmascope
