#include "engine/timing/timing_results.h"

#include <algorithm>

#include "core/base/error.h"

namespace dmascope::engine {

std::string_view sweep_kind_name(SweepKind kind) { return kind == SweepKind::Length ? "L" : "w"; }

std::size_t TimingSweep::failed_points() const {
  return static_cast<std::size_t>(
      std::count_if(timings.begin(), timings.end(), [](const LayerTiming& timing) { return timing.failed(); }));
}

}  // namespace dmascope::engine
