// Axis ranges and ticks of the line charts (line_chart.h), free of ImGui so that they are unit-tested. Linear axes
// step by 1, 2 or 5 × 10ⁿ; log axes put a tick on every decade (and on 2 and 5 × 10ⁿ when the range spans fewer
// than two decades, so that a short range still has labels).
#pragma once

#include <string>
#include <vector>

namespace dmascope::gui {

struct AxisTick {
  double value = 0;
  std::string label;
};

struct AxisRange {
  double low = 0, high = 1;
  bool log = false;
  // Where `value` falls, 0 at low … 1 at high (log10 spacing on a log axis).
  double fraction(double value) const;
};

// A range that holds [low, high] with round ends; a linear range starts at 0 when all values are positive.
AxisRange nice_linear_range(double low, double high);
AxisRange nice_log_range(double low, double high);  // whole decades; low, high > 0

std::vector<AxisTick> axis_ticks(const AxisRange& range, int max_ticks);

// Ticks at given points (the sweep's L or w values), labelled 1K, 2K, … ; the x axis of a sweep is log2-spaced.
std::vector<AxisTick> point_ticks(const std::vector<double>& points);

// "0.5", "2", "10", "10000", "1e+06": short labels for tick values.
std::string tick_label(double value);

}  // namespace dmascope::gui
