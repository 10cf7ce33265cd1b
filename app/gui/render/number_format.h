// Numbers formatted for people: 1.23 ms, 456 µs, 2.35 s, 12.3 %, 4.5 M, 1.85× (libfmt).
#pragma once

#include <string>

namespace dmascope::gui {

std::string format_ms(double milliseconds);
std::string format_percent(double fraction);  // 0.123 → "12.3 %"
std::string format_count(double count);       // 4500000 → "4.5 M"
std::string format_ratio(double ratio);       // 1.85 → "1.85×"

}  // namespace dmascope::gui
