#include "engine/timing/sweep_points.h"

#include <fmt/format.h>

#include <algorithm>

namespace dmascope::engine {

std::vector<std::int64_t> length_sweep_points(bool on_gpu) {
  const std::int64_t first = on_gpu ? kCudaSweepMinLength : kCpuSweepMinLength;
  const std::int64_t last = on_gpu ? kCudaSweepMaxLength : kCpuSweepMaxLength;
  std::vector<std::int64_t> points;
  for (std::int64_t length = first; length <= last; length *= 2) points.push_back(length);
  return points;
}

std::vector<std::int64_t> window_sweep_points(std::int64_t length, std::int64_t current_window) {
  std::vector<std::int64_t> points;
  if (length < 1) return points;
  for (std::int64_t window = kWindowSweepMin; window < length; window *= 2) points.push_back(window);
  points.push_back(length);  // w ≥ L keeps every causal pair: DMA's worst case
  if (current_window >= 1) points.push_back(std::min(current_window, length));
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  return points;
}

std::string token_count_label(std::int64_t count) {
  if (count >= 1024 && count % 1024 == 0) return fmt::format("{}K", count / 1024);
  return fmt::format("{}", count);
}

}  // namespace dmascope::engine
