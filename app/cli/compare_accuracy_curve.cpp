#include "app/cli/compare_accuracy_curve.h"

#include <fmt/core.h>

#include "app/cli/cli_args.h"
#include "app/cli/progress_line.h"
#include "engine/lab/lab_table.h"

namespace dmascope::cli {

std::vector<std::int64_t> parse_accuracy_windows(const std::string& text) {
  std::vector<std::int64_t> windows;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    std::int64_t window = 0;
    if (!command_line::parse_int64(text.substr(begin, comma - begin), window) || window < 1)
      usage_fail("--accuracy-windows: '{}' is not a list of budgets ≥ 1 such as 16,64,256", text);
    windows.push_back(window);
    begin = comma + 1;
  }
  return windows;
}

int run_accuracy_curve(const DogeModel& model, const AccuracyCurveRequest& request) {
  ProgressLine progress("compare", request.quiet);
  const AccuracyCurve curve = answer_accuracy_curve(model, request.settings, [&](std::int64_t done, std::int64_t total) {
    if (progress.shown()) progress.update(fmt::format("accuracy curve, forward {}/{}", done, total));
  });
  progress.clear();
  if (request.json) {
    fmt::print("{}\n", accuracy_curve_json(curve).dump(1));
    return 0;
  }
  fmt::print("{}: {} sequences of {} tokens, {} answers; the model (DMA, w = {}): {:.1f} % right\n",
             toy_task_name(curve.task), curve.sequences, curve.length, curve.answers, curve.model_window,
             100.0 * curve.model_accuracy());
  fmt::print("{:>8}", "w");
  for (Strategy strategy : curve.strategies) fmt::print(" {:>8}", strategy_name(strategy));
  fmt::print("\n");
  for (std::size_t w = 0; w < curve.windows.size(); ++w) {
    fmt::print("{:>8}", curve.windows[w]);
    for (std::size_t s = 0; s < curve.strategies.size(); ++s) fmt::print(" {:>7.1f}%", 100.0 * curve.accuracy(s, w));
    fmt::print("\n");
  }
  return 0;
}

}  // namespace dmascope::cli
