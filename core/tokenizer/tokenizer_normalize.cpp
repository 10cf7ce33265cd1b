#include "core/tokenizer/tokenizer_normalize.h"

#include <algorithm>

#include "core/base/error.h"
#include "core/tokenizer/tokenizer_text.h"

namespace dmascope::tokenizer_detail {

namespace {

// The growth bound of one apply(): every step checks it before it writes, not after.
struct GrowthBound {
  std::size_t input_bytes, limit;
  std::string_view where;
  void check(std::size_t bytes) const {
    if (bytes > limit) fail("{}: the normalizer grew {} bytes of text past {} bytes", where, input_bytes, limit);
  }
};

void prepend(TextPiece& piece, const std::string& prefix, const GrowthBound& bound) {
  if (piece.text.empty()) return;  // the library prepends to non-empty text only
  bound.check(piece.text.size() + prefix.size());
  piece.text.insert(0, prefix);
  piece.origin.insert(piece.origin.begin(), prefix.size(), piece.origin.front());
}

void replace(TextPiece& piece, const Pattern& pattern, const std::string& content, const GrowthBound& bound) {
  TextPiece out;
  for (const TextSegment& segment : pattern.segments(piece.text)) {
    if (segment.is_match) {
      bound.check(out.text.size() + content.size());
      // An empty pattern also matches (emptily) at the end of the text, past the last origin: the inserted content
      // then comes from the last character.
      const std::size_t origin_at = std::min(segment.begin, piece.origin.size() - 1);
      if (!content.empty()) out.append(content, piece.origin[origin_at]);
    } else {
      bound.check(out.text.size() + (segment.end - segment.begin));
      out.text.append(piece.text, segment.begin, segment.end - segment.begin);
      out.origin.insert(out.origin.end(), piece.origin.begin() + static_cast<std::ptrdiff_t>(segment.begin),
                        piece.origin.begin() + static_cast<std::ptrdiff_t>(segment.end));
    }
  }
  piece.text = std::move(out.text);
  piece.origin = std::move(out.origin);
}

void lowercase(TextPiece& piece, const GrowthBound& bound) {
  TextPiece out;
  out.text.reserve(piece.text.size());
  std::string lowered;
  std::size_t offset = 0;
  while (offset < piece.text.size()) {
    const std::size_t start = offset;
    lowered.clear();
    append_lowercase(lowered, next_code_point(piece.text, offset));
    bound.check(out.text.size() + lowered.size());
    out.append(lowered, piece.origin[start]);
  }
  piece.text = std::move(out.text);
  piece.origin = std::move(out.origin);
}

void strip(TextPiece& piece, bool left, bool right) {
  std::size_t begin = 0, end = piece.text.size();
  if (left) {
    while (begin < end) {
      std::size_t next = begin;
      if (!is_white_space(next_code_point(piece.text, next))) break;
      begin = next;
    }
  }
  if (right) {
    while (end > begin) {
      std::size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(piece.text[start]) & 0xC0) == 0x80) --start;
      std::size_t next = start;
      if (!is_white_space(next_code_point(piece.text, next))) break;
      end = start;
    }
  }
  piece = piece.slice(begin, end);
}

}  // namespace

Normalizer Normalizer::parse(const JsonField& field) {
  Normalizer normalizer;
  if (!field.is_null()) parse_into(field, normalizer.steps_);
  normalizer.where_ = field.where();
  return normalizer;
}

void Normalizer::parse_into(const JsonField& field, std::vector<Step>& steps) {
  const std::string type = field.type_name();
  if (type == "Sequence") {
    field.require_shallow_nesting();
    const JsonField list = field.member("normalizers");
    list.require_array();
    for (std::size_t i = 0; i < list.value().size(); ++i) parse_into(list.element(i), steps);
  } else if (type == "Prepend") {
    steps.push_back(Step{Kind::Prepend, field.string_member("prepend"), {}});
  } else if (type == "Replace") {
    steps.push_back(Step{Kind::Replace, field.string_member("content"), parse_pattern(field.member("pattern"))});
  } else if (type == "Lowercase") {
    require_lowercase_support(field.where());
    steps.push_back(Step{Kind::Lowercase, {}, {}});
  } else if (type == "Strip") {
    Step step{Kind::Strip, {}, {}};
    step.strip_left = field.bool_or("strip_left", true);
    step.strip_right = field.bool_or("strip_right", true);
    steps.push_back(std::move(step));
  } else if (type == "NFC" || type == "NFKC" || type == "NFD" || type == "NFKD") {
    field.fail_here("unsupported normalizer type \"{}\": Unicode normalization needs tables dmascope does not carry",
                    type);
  } else {
    field.fail_here("unsupported normalizer type \"{}\" (supported: Sequence, Prepend, Replace, Lowercase, Strip)",
                    type);
  }
}

void Normalizer::apply(TextPiece& piece) const { apply(piece, growth_limit(piece.text.size())); }

void Normalizer::apply(TextPiece& piece, std::size_t max_bytes) const {
  const std::size_t input_bytes = piece.text.size();
  const std::size_t limit = std::min(growth_limit(input_bytes), max_bytes);
  const GrowthBound bound{input_bytes, limit, where_};
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::Prepend:
        prepend(piece, step.text, bound);
        break;
      case Kind::Replace:
        replace(piece, step.pattern, step.text, bound);
        break;
      case Kind::Lowercase:
        lowercase(piece, bound);
        break;
      case Kind::Strip:
        strip(piece, step.strip_left, step.strip_right);
        break;
    }
    bound.check(piece.text.size());
  }
}

std::string Normalizer::apply(const std::string& text, std::size_t max_bytes) const {
  TextPiece piece{text, std::vector<std::uint32_t>(text.size(), 0), std::nullopt};
  apply(piece, max_bytes);
  return piece.text;
}

}  // namespace dmascope::tokenizer_detail
