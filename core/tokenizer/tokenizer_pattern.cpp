#include "core/tokenizer/tokenizer_pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <optional>

#include "core/base/error.h"
#include "core/tokenizer/tokenizer_text.h"

namespace dmascope::tokenizer_detail {

namespace {

// Oniguruma's Unicode classes, spelled as PCRE2 class contents. White_Space is the Unicode property; word characters
// are Letter | Mark | Decimal_Number | Connector_Punctuation (Oniguruma's doc/RE).
constexpr std::string_view kWhiteSpaceClass =
    "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
constexpr std::string_view kWordClass = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";

std::string pcre2_message(int error_code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(error_code, buffer, sizeof(buffer));
  return length < 0 ? fmt::format("PCRE2 error {}", error_code) : std::string(reinterpret_cast<char*>(buffer));
}

struct Match {
  std::size_t begin, end;
};

}  // namespace

struct Pattern::CompiledRegex {
  pcre2_code* code = nullptr;
  std::string where;
  ~CompiledRegex() { pcre2_code_free(code); }

  std::optional<Match> find(std::string_view text, std::size_t from, pcre2_match_data* match_data) const {
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    int result = pcre2_match(code, subject, text.size(), from, PCRE2_NO_UTF_CHECK, match_data, nullptr);
    if (result == PCRE2_ERROR_JIT_STACKLIMIT) {
      // The JIT's small default stack ran out on a long subject; the interpreter keeps its state on the heap.
      result = pcre2_match(code, subject, text.size(), from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match_data, nullptr);
    }
    if (result == PCRE2_ERROR_NOMATCH) return std::nullopt;
    if (result < 0) fail("{}: matching the regex failed: {}", where, pcre2_message(result));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data);
    if (ovector[1] < ovector[0]) {
      // Only \K inside a lookahead can end a match before its start; there is no meaningful split for it.
      fail("{}: the regex produced a match that ends before it starts (\\K in a lookaround)", where);
    }
    return Match{ovector[0], ovector[1]};
  }
};

std::string oniguruma_compatible_regex(std::string_view source) {
  std::string out;
  out.reserve(source.size() + 32);
  bool in_class = false;
  std::size_t i = 0;
  while (i < source.size()) {
    const char c = source[i];
    if (c == '\\' && i + 1 < source.size()) {
      const char escaped = source[i + 1];
      if (escaped == 'Q') {  // \Q...\E quotes everything up to \E verbatim
        const std::size_t end = source.find("\\E", i + 2);
        const std::size_t stop = end == std::string_view::npos ? source.size() : end + 2;
        out.append(source.substr(i, stop - i));
        i = stop;
        continue;
      }
      if (!in_class) {
        if (escaped == 's') out += fmt::format("[{}]", kWhiteSpaceClass);
        if (escaped == 'S') out += fmt::format("[^{}]", kWhiteSpaceClass);
        if (escaped == 'w') out += fmt::format("[{}]", kWordClass);
        if (escaped == 'W') out += fmt::format("[^{}]", kWordClass);
      } else {
        // Inside a class only the positive forms can be spelled out; a negated one in a class stays PCRE2's.
        if (escaped == 's') out += kWhiteSpaceClass;
        if (escaped == 'w') out += kWordClass;
        if (escaped == 'S' || escaped == 'W') out.append(source.substr(i, 2));
      }
      if (escaped != 's' && escaped != 'S' && escaped != 'w' && escaped != 'W') out.append(source.substr(i, 2));
      i += 2;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      ++i;
      if (i < source.size() && source[i] == '^') out += source[i++];
      if (i < source.size() && source[i] == ']') out += source[i++];  // a leading ] is a literal
      continue;
    }
    if (in_class && c == '[' && i + 1 < source.size() && source[i + 1] == ':') {  // POSIX [:name:]
      const std::size_t end = source.find(":]", i + 2);
      if (end != std::string_view::npos) {
        out.append(source.substr(i, end + 2 - i));
        i = end + 2;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out += c;
    ++i;
  }
  return out;
}

Pattern Pattern::literal(std::string text) {
  Pattern pattern;
  pattern.literal_ = std::move(text);
  return pattern;
}

Pattern Pattern::regex(std::string_view regex_source, std::string_view where) {
  const std::string rewritten = oniguruma_compatible_regex(regex_source);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // \C (one byte of a UTF-8 character) is refused: a match ending inside a character would cut it in half.
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C, &error_code, &error_offset, nullptr);
  if (!code) {
    fail("{}: regex /{}/ does not compile: {} (at offset {} of the PCRE2 form /{}/)", where, regex_source,
         pcre2_message(error_code), error_offset, rewritten);
  }
  auto compiled = std::make_shared<CompiledRegex>();
  compiled->code = code;
  compiled->where = std::string(where);
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: without the JIT pcre2_match interprets
  Pattern pattern;
  pattern.regex_ = std::move(compiled);
  return pattern;
}

std::vector<TextSegment> Pattern::segments(std::string_view text) const {
  std::vector<TextSegment> result;
  if (text.empty()) return result;

  struct MatchDataDeleter {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
  };
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match_data;
  if (regex_) match_data.reset(pcre2_match_data_create_from_pattern(regex_->code, nullptr));
  if (regex_ && !match_data) fail("{}: out of memory for regex match data", regex_->where);

  auto find = [&](std::size_t from) -> std::optional<Match> {
    if (regex_) return regex_->find(text, from, match_data.get());
    const std::size_t at = text.find(literal_, from);  // an empty literal matches (emptily) everywhere
    if (at == std::string_view::npos) return std::nullopt;
    return Match{at, at + literal_.size()};
  };

  std::size_t previous_end = 0;  // end of the last segment emitted
  std::size_t search_from = 0;
  std::optional<std::size_t> last_match_end;
  while (search_from <= text.size()) {
    const std::optional<Match> match = find(search_from);
    if (!match) break;
    if (match->begin == match->end && last_match_end == match->end) {
      // An empty match right where the previous match ended does not count; step over one character and retry.
      if (search_from >= text.size()) break;
      search_from += utf8_length(static_cast<unsigned char>(text[search_from]));
      continue;
    }
    if (previous_end != match->begin) result.push_back({previous_end, match->begin, false});
    result.push_back({match->begin, match->end, true});
    previous_end = match->end;
    last_match_end = match->end;
    search_from = match->end;
  }
  if (previous_end != text.size()) result.push_back({previous_end, text.size(), false});
  return result;
}

Pattern parse_pattern(const JsonField& field) {
  field.require_object();
  if (const auto literal_text = field.optional_member("String")) return Pattern::literal(literal_text->as_string());
  if (const auto regex_source = field.optional_member("Regex")) {
    return Pattern::regex(regex_source->as_string(), regex_source->where());
  }
  field.fail_here("must be {{\"String\": ...}} or {{\"Regex\": ...}}");
}

SplitBehavior parse_split_behavior(const JsonField& field) {
  const std::string name = field.as_string();
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  field.fail_here(
      "unknown split behavior \"{}\" (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or "
      "Contiguous)",
      name);
}

std::vector<TextSegment> apply_split_behavior(std::vector<TextSegment> segments, SplitBehavior behavior) {
  std::vector<TextSegment> kept;
  kept.reserve(segments.size());
  bool previous_was_match = false;
  switch (behavior) {
    case SplitBehavior::Isolated:
      kept = std::move(segments);
      break;
    case SplitBehavior::Removed:
      for (const TextSegment& segment : segments) {
        if (!segment.is_match) kept.push_back(segment);
      }
      break;
    case SplitBehavior::Contiguous:
      // Runs of matches and runs of non-matches each become one piece.
      for (const TextSegment& segment : segments) {
        if (!kept.empty() && segment.is_match == previous_was_match) {
          kept.back().end = segment.end;
        } else {
          kept.push_back(segment);
        }
        previous_was_match = segment.is_match;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const TextSegment& segment : segments) {
        if (segment.is_match && !previous_was_match && !kept.empty()) {
          kept.back().end = segment.end;
        } else {
          kept.push_back(segment);
        }
        previous_was_match = segment.is_match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      // Walk backwards: a delimiter joins the piece that follows it.
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_was_match && !kept.empty()) {
          kept.back().begin = it->begin;
        } else {
          kept.push_back(*it);
        }
        previous_was_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (TextSegment& segment : kept) segment.is_match = false;
  return kept;
}

}  // namespace dmascope::tokenizer_detail
