#include "core/base/printable.h"

#include <fmt/format.h>

namespace dmascope {

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t n = 0; n < text.size(); ++n) {
    const auto byte = static_cast<unsigned char>(text[n]);
    if (byte < 0x20 || byte == 0x7F) {
      out += fmt::format("\\x{:02x}", byte);
    } else if (byte == 0xC2 && n + 1 < text.size() && static_cast<unsigned char>(text[n + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[n + 1]) <= 0x9F) {
      // U+0080..U+009F: C1 controls (CSI is U+009B), shown as their code point.
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[n + 1]));
      ++n;
    } else {
      out += static_cast<char>(byte);
    }
  }
  return out;
}

std::string printable_message(std::string_view text) {
  std::string out;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find('\n', begin);
    out += printable(text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return out;
    out += "\n";
    // Our own continuation lines are indented already; others get the indent.
    if (!text.substr(end + 1).starts_with("  ")) out += "  ";
    begin = end + 1;
  }
}

}  // namespace dmascope
