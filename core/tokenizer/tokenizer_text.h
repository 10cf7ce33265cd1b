// UTF-8 and Unicode helpers for the tokenizer: what the Rust `tokenizers` library gets from `str`, `char` and
// `String::from_utf8_lossy`, written out here because std::string is bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmascope::tokenizer_detail {

// Byte offset of the first byte that is not part of well-formed UTF-8 (overlongs, surrogates and code points past
// U+10FFFF are ill-formed), or nullopt when the whole text is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

// Length of the character whose lead byte is `lead`, in text already known to be valid UTF-8.
std::size_t utf8_length(unsigned char lead);

// The code point starting at `offset` in valid UTF-8; `offset` moves past it.
char32_t next_code_point(std::string_view text, std::size_t& offset);

void append_utf8(std::string& out, char32_t code_point);

// Bytes to valid UTF-8 the way Rust's String::from_utf8_lossy does it: each maximal ill-formed subpart becomes one
// U+FFFD, so a cut multi-byte character costs one replacement character, a stray byte one each.
std::string utf8_lossy(std::string_view bytes);

// Rust's char::is_whitespace (the Unicode White_Space property), the `\s` of the Rust regex crate and Oniguruma.
bool is_white_space(char32_t code_point);

// Rust's char::to_lowercase: the full lowercase mapping of one character, appended as UTF-8. Throws Error when the
// C.UTF-8 locale (glibc's Unicode case tables) is not available.
void append_lowercase(std::string& out, char32_t code_point);
void require_lowercase_support(std::string_view where);

// How far normalizers, pre-tokenizers and decoders may grow a text before the file is taken to be hostile. Real ones
// at most triple it (a 3-byte "▁" for each space, two bytes for each byte in ByteLevel); a chain of replacements that
// each insert text between all characters would grow it exponentially and exhaust memory.
constexpr std::size_t growth_limit(std::size_t input_bytes) { return 64 * input_bytes + 4096; }

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace dmascope::tokenizer_detail
