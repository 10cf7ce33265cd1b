// A forward checked against the CPU's fp32 forward, the exact reference: how far a bf16 (or fp32) GPU run of a model
// is from it on the same ids and window, and why. Two CPU forwards: the reference on its own β and masks, and the
// reference's arithmetic on the run's own β and masks (ForwardOptions::bias_override, kept_sets), which separates what
// the run's arithmetic moved from what a differently kept key moved. Per layer and bias head, the masks' agreement and
// the rows where they differ, with those whose cut falls on a β tie (where the tie rule, not β, picks the kept key).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/model/doge_forward.h"
#include "core/model/forward_agreement.h"

namespace dmascope::engine {

struct LayerMaskCheck {
  std::vector<MaskAgreement> heads;  // per bias head
  std::vector<double> largest_beta_change;  // per bias head: max over keys of |β − β_ref|, over the largest |β_ref|
};

struct PrecisionCheck {
  std::int64_t tokens = 0, window = 0;
  double relative_error = 0.0;  // logits against the reference
  RowErrors rows;
  TopOneAgreement top_one;
  double same_masks_relative_error = 0.0;  // logits against the reference's arithmetic on this run's β and masks
  RowErrors same_masks_rows;
  TopOneAgreement same_masks_top_one;
  std::vector<LayerMaskCheck> layers;
  bool finite() const { return std::isfinite(relative_error) && std::isfinite(same_masks_relative_error); }
};

// `run`: a forward of `model` on `ids` with `options` (its window as run.window) that kept every row's logits and each
// layer's death indices and β (an Error names what is missing). `on_progress(done, total)` counts the two CPU
// forwards' layers; options.cancel is honoured (ForwardCancelled).
PrecisionCheck check_against_cpu_reference(const DogeModel& model, std::span<const std::int32_t> ids,
                                           const ForwardOptions& options, const ForwardResult& run,
                                           const std::function<void(std::int64_t, std::int64_t)>& on_progress = {});

}  // namespace dmascope::engine
