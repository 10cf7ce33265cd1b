#include "core/tokenizer/tokenizer_text.h"

#include <locale.h>
#include <wctype.h>

#include "core/base/error.h"

namespace dmascope::tokenizer_detail {

namespace {

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Length of the well-formed prefix of the character starting at `offset` (Unicode table 3-7), and whether that
// prefix is the complete character. A byte that cannot start a character gives {0, false}.
struct CharacterPrefix {
  std::size_t length = 0;
  bool complete = false;
};

CharacterPrefix well_formed_prefix(std::string_view text, std::size_t offset) {
  const auto lead = static_cast<unsigned char>(text[offset]);
  if (lead < 0x80) return {1, true};
  std::size_t needed = 0;
  unsigned char second_low = 0x80, second_high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    needed = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    needed = 3;
    if (lead == 0xE0) second_low = 0xA0;   // no overlongs
    if (lead == 0xED) second_high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    needed = 4;
    if (lead == 0xF0) second_low = 0x90;   // no overlongs
    if (lead == 0xF4) second_high = 0x8F;  // nothing past U+10FFFF
  } else {
    return {0, false};
  }
  std::size_t length = 1;
  while (length < needed && offset + length < text.size()) {
    const auto byte = static_cast<unsigned char>(text[offset + length]);
    const bool ok = length == 1 ? byte >= second_low && byte <= second_high : is_continuation(byte);
    if (!ok) break;
    ++length;
  }
  return {length, length == needed};
}

locale_t unicode_ctype_locale() {
  // glibc's C.UTF-8 locale (built in since 2.35) carries the Unicode simple case mappings; created once, never freed.
  static const locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return locale;
}

}  // namespace

std::optional<std::size_t> find_invalid_utf8(std::string_view text) {
  std::size_t offset = 0;
  while (offset < text.size()) {
    const CharacterPrefix prefix = well_formed_prefix(text, offset);
    if (!prefix.complete) return offset;
    offset += prefix.length;
  }
  return std::nullopt;
}

std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

char32_t next_code_point(std::string_view text, std::size_t& offset) {
  const auto lead = static_cast<unsigned char>(text[offset]);
  const std::size_t length = utf8_length(lead);
  char32_t code_point = length == 1 ? lead : length == 2 ? (lead & 0x1F) : length == 3 ? (lead & 0x0F) : (lead & 0x07);
  for (std::size_t i = 1; i < length && offset + i < text.size(); ++i) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[offset + i]) & 0x3F);
  }
  offset += length;
  return code_point;
}

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    const CharacterPrefix prefix = well_formed_prefix(bytes, offset);
    if (prefix.complete) {
      out.append(bytes.substr(offset, prefix.length));
      offset += prefix.length;
    } else {
      out.append(kReplacementCharacter);
      offset += prefix.length == 0 ? 1 : prefix.length;
    }
  }
  return out;
}

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

void require_lowercase_support(std::string_view where) {
  if (unicode_ctype_locale() == static_cast<locale_t>(nullptr)) {
    fail("{}: the Lowercase normalizer needs the C.UTF-8 locale for Unicode case mapping, which is missing", where);
  }
}

void append_lowercase(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point >= 'A' && code_point <= 'Z' ? code_point + 32 : code_point);
    return;
  }
  // The one unconditional multi-character lowercase mapping (SpecialCasing.txt): İ -> i + combining dot above.
  if (code_point == 0x130) {
    out += 'i';
    append_utf8(out, 0x307);
    return;
  }
  const locale_t locale = unicode_ctype_locale();
  if (locale == static_cast<locale_t>(nullptr)) fail("Lowercase normalizer: the C.UTF-8 locale is missing");
  append_utf8(out, static_cast<char32_t>(towlower_l(static_cast<wint_t>(code_point), locale)));
}

}  // namespace dmascope::tokenizer_detail
