// `dmascope-cli compare --task NAME --accuracy-curve`: answer accuracy against the budget w for each strategy, the
// model's whole forward run with the strategy's kept sets in place of DMA's mask (engine/lab/answer_accuracy.h).
#pragma once

#include <string>

#include "core/model/doge_weights.h"
#include "engine/lab/answer_accuracy.h"

namespace dmascope::cli {

struct AccuracyCurveRequest {
  AccuracyCurveSettings settings;
  bool json = false, quiet = false;
};

// Parses --accuracy-windows ("4,16,64"); usage error naming the flag for anything but positive integers.
std::vector<std::int64_t> parse_accuracy_windows(const std::string& text);

int run_accuracy_curve(const DogeModel& model, const AccuracyCurveRequest& request);

}  // namespace dmascope::cli
