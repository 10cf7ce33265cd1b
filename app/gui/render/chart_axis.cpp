#include "app/gui/render/chart_axis.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "app/gui/engine_vocabulary.h"
#include "engine/timing/sweep_points.h"

namespace dmascope::gui {

namespace {

double nice_step(double span, int max_ticks) {
  const double raw = span / std::max(1, max_ticks - 1);
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  for (double multiple : {1.0, 2.0, 5.0, 10.0})
    if (multiple * decade >= raw * (1 - 1e-9)) return multiple * decade;
  return 10 * decade;
}

}  // namespace

double AxisRange::fraction(double value) const {
  if (log) {
    if (!(value > 0) || !(low > 0) || !(high > low)) return 0;
    return (std::log10(value) - std::log10(low)) / (std::log10(high) - std::log10(low));
  }
  return high > low ? (value - low) / (high - low) : 0;
}

AxisRange nice_linear_range(double low, double high) {
  if (!std::isfinite(low) || !std::isfinite(high)) return {0, 1, false};
  if (low > 0) low = 0;
  if (high <= low) high = low + 1;
  const double step = nice_step(high - low, 6);
  return {std::floor(low / step) * step, std::ceil(high / step - 1e-9) * step, false};
}

AxisRange nice_log_range(double low, double high) {
  if (!(low > 0) || !std::isfinite(high) || !std::isfinite(low)) return {1, 10, true};
  if (high < low) high = low;
  const double lo = std::pow(10.0, std::floor(std::log10(low) + 1e-9));
  double hi = std::pow(10.0, std::ceil(std::log10(high) - 1e-9));
  if (hi <= lo) hi = lo * 10;
  return {lo, hi, true};
}

std::vector<AxisTick> axis_ticks(const AxisRange& range, int max_ticks) {
  std::vector<AxisTick> ticks;
  if (range.log) {
    const int first = static_cast<int>(std::lround(std::log10(range.low)));
    const int last = static_cast<int>(std::lround(std::log10(range.high)));
    const bool fill = last - first < 2;
    for (int exponent = first; exponent <= last; ++exponent) {
      const double decade = std::pow(10.0, exponent);
      ticks.push_back({decade, tick_label(decade)});
      if (fill && exponent < last)
        for (double multiple : {2.0, 5.0}) ticks.push_back({multiple * decade, tick_label(multiple * decade)});
    }
    return ticks;
  }
  const double step = nice_step(range.high - range.low, max_ticks);
  for (double value = range.low; value <= range.high + step * 1e-6; value += step) {
    const double snapped = std::abs(value) < step * 1e-9 ? 0.0 : value;
    ticks.push_back({snapped, tick_label(snapped)});
  }
  return ticks;
}

std::vector<AxisTick> point_ticks(const std::vector<double>& points) {
  std::vector<AxisTick> ticks;
  for (double point : points) ticks.push_back({point, token_count_label(static_cast<std::int64_t>(std::llround(point)))});
  return ticks;
}

std::string tick_label(double value) {
  if (value == 0) return "0";
  const double magnitude = std::abs(value);
  if (magnitude >= 1e6 || magnitude < 1e-3) return fmt::format("{:.0e}", value);
  return fmt::format("{:g}", value);
}

}  // namespace dmascope::gui
