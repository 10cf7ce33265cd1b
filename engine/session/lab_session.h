// The Mask lab's settings as a session file keeps them (section "lab"): which strategies, the budget, the dense
// reference and DAM's calibration, and whether the lab window is open. Plain values with the app's defaults; the
// lab's results are not saved (they are recomputed from these and the pipeline settings).
#pragma once

#include <cstdint>
#include <string>

#include "engine/lab/lab_job.h"

namespace dmascope::engine {

struct LabSessionSettings {
  std::string strategies = all_strategy_names();  // "dma,swa,oracle"
  std::int64_t window = 0;                        // 0: the forward's window
  bool dense_with_bias = true;
  DamSource dam_source = DamSource::Task;         // Task falls back to random ids off the toy vocabulary
  std::int64_t dam_sequences = 4;
  std::int64_t dam_capture_length = 128;
  std::string dam_text_file;                      // for DamSource::Text
  bool budget_curves = true;
  bool open = false;                              // the lab window is shown
  bool operator==(const LabSessionSettings&) const = default;
};

// Limits a session file may hold (the app's widgets keep the same ranges).
inline constexpr std::int64_t kMaxLabDamSequences = 4096;
inline constexpr std::int64_t kMinLabCaptureLength = 8, kMaxLabCaptureLength = 4096;

DamSource dam_source_from_name(std::string_view name);  // "task", "text", "random"; Error naming the known ones

}  // namespace dmascope::engine
