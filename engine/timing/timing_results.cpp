#include "engine/timing/timing_results.h"

#include <algorithm>

#include "core/base/error.h"

namespace dmascope::engine {

std::string_view timing_dtype_name(TimingDtype dtype) { return dtype == TimingDtype::BF16 ? "bf16" : "fp16"; }

TimingDtype timing_dtype_from_name(std::string_view name) {
  if (name == "bf16") return TimingDtype::BF16;
  if (name == "fp16") return TimingDtype::F16;
  fail("unknown dtype '{}' (expected bf16 or fp16)", name);
}

std::string_view sweep_kind_name(SweepKind kind) { return kind == SweepKind::Length ? "L" : "w"; }

std::size_t TimingSweep::failed_points() const {
  return static_cast<std::size_t>(
      std::count_if(timings.begin(), timings.end(), [](const LayerTiming& timing) { return timing.failed(); }));
}

}  // namespace dmascope::engine
