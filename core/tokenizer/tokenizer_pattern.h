// The patterns tokenizer.json splits and replaces on: a literal string or a regex (PCRE2 with UTF + UCP standing in
// for the Oniguruma engine the `tokenizers` library uses), and the split behaviours that decide what becomes of the
// matched delimiters.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer_json.h"

namespace dmascope::tokenizer_detail {

struct TextSegment {
  std::size_t begin = 0;
  std::size_t end = 0;
  bool is_match = false;
};

class Pattern {
 public:
  // `where` ("file: field 'x'") prefixes the error for a regex that does not compile.
  static Pattern literal(std::string text);
  static Pattern regex(std::string_view regex_source, std::string_view where);

  // Cuts `text` (valid UTF-8) into contiguous segments covering all of it, each a match of the pattern or the text
  // between matches. Empty matches count the way Oniguruma's find_iter counts them (never right after a match).
  // An empty text gives no segments.
  std::vector<TextSegment> segments(std::string_view text) const;

 private:
  struct CompiledRegex;
  std::string literal_;
  std::shared_ptr<const CompiledRegex> regex_;
};

// A {"String": "..."} or {"Regex": "..."} pattern object, as Split and Replace carry them.
Pattern parse_pattern(const JsonField& field);

// Rewrites Oniguruma's Unicode \s, \S, \w and \W into explicit classes, because PCRE2's differ (PCRE2's \s takes
// U+180E, its \w leaves out combining marks). Exposed for its tests.
std::string oniguruma_compatible_regex(std::string_view regex_source);

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// The pieces a split keeps, as byte ranges, for the given behaviour (the `tokenizers` NormalizedString::split);
// empty ranges may remain and are for the caller to drop.
SplitBehavior parse_split_behavior(const JsonField& field);
std::vector<TextSegment> apply_split_behavior(std::vector<TextSegment> segments, SplitBehavior behavior);

}  // namespace dmascope::tokenizer_detail
