// The points of the Timing view's sweeps. Over L: powers of two, 1K…128K on CUDA, 256…4K on the CPU (dense CPU
// attention grows as L² and two cores take seconds per run beyond that). Over w: powers of two from 16 up to L, with
// the layer's own w added, so that the current setting is always one of the points.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dmascope::engine {

inline constexpr std::int64_t kCudaSweepMinLength = 1024, kCudaSweepMaxLength = 131072;
inline constexpr std::int64_t kCpuSweepMinLength = 256, kCpuSweepMaxLength = 4096;
inline constexpr std::int64_t kWindowSweepMin = 16;

std::vector<std::int64_t> length_sweep_points(bool on_gpu);
std::vector<std::int64_t> window_sweep_points(std::int64_t length, std::int64_t current_window);

// 1024 → "1K", 131072 → "128K", 96 → "96": how the axes and the CSV name lengths and windows.
std::string token_count_label(std::int64_t count);

}  // namespace dmascope::engine
