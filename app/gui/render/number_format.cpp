#include "app/gui/render/number_format.h"

#include <fmt/format.h>

#include <cmath>

namespace dmascope::gui {

std::string format_ms(double ms) {
  if (!std::isfinite(ms)) return "—";
  if (ms < 1.0) return fmt::format("{:.0f} µs", ms * 1000.0);
  if (ms < 10.0) return fmt::format("{:.2f} ms", ms);
  if (ms < 1000.0) return fmt::format("{:.1f} ms", ms);
  return fmt::format("{:.2f} s", ms / 1000.0);
}

std::string format_percent(double fraction) {
  if (!std::isfinite(fraction)) return "—";
  return fraction < 0.001 && fraction > 0 ? fmt::format("{:.3f} %", fraction * 100) : fmt::format("{:.1f} %", fraction * 100);
}

std::string format_count(double count) {
  if (!std::isfinite(count)) return "—";
  const double magnitude = std::fabs(count);
  if (magnitude >= 1e9) return fmt::format("{:.2f} G", count / 1e9);
  if (magnitude >= 1e6) return fmt::format("{:.2f} M", count / 1e6);
  if (magnitude >= 1e4) return fmt::format("{:.1f} K", count / 1e3);
  return fmt::format("{:.0f}", count);
}

std::string format_ratio(double ratio) {
  if (!std::isfinite(ratio) || ratio <= 0) return "—";
  return ratio < 10 ? fmt::format("{:.2f}×", ratio) : fmt::format("{:.1f}×", ratio);
}

}  // namespace dmascope::gui
