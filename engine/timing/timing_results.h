// What the Timing view's sweeps show, free of any GUI or CUDA type so that the CSV writers and their tests can use it:
// timings of DMA against the dense baselines (core/compute/attention_timing.h) over L or w.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/compute/attention_timing.h"  // TimedVariant, LayerTiming, KernelTileMap

namespace dmascope::engine {

enum class SweepKind { Length, Window };
std::string_view sweep_kind_name(SweepKind kind);  // "L" | "w"

// A sweep: one timing per point, plus a sentence that says exactly what was timed. A point that fails is kept as a
// failed LayerTiming with its reason and the sweep goes on, so one out-of-memory point never costs the others.
struct TimingSweep {
  SweepKind kind = SweepKind::Length;
  std::uint64_t generation = 0;
  std::int64_t layer = 0;        // the layer whose captures a w sweep times
  std::string what_timed;
  std::string device;
  std::vector<std::int64_t> points;  // L or w, ascending
  std::vector<LayerTiming> timings;  // one per point (fewer when cancelled); failed() ones included
  bool cancelled = false;            // stopped by the user after timings.size() points

  std::size_t failed_points() const;
};

}  // namespace dmascope::engine
