#include "core/compute/attention_timing.h"

#include <algorithm>

namespace dmascope {

TimedVariant summarize_times(std::vector<double> milliseconds) {
  TimedVariant variant;
  if (milliseconds.empty()) return variant;
  std::sort(milliseconds.begin(), milliseconds.end());
  variant.measured = true;
  variant.median_ms = milliseconds[milliseconds.size() / 2];
  variant.spread_ms = milliseconds.back() - milliseconds.front();
  return variant;
}

}  // namespace dmascope
