#include "core/tokenizer/tokenizer_pretokenize.h"

#include <array>

#include "core/tokenizer/tokenizer_text.h"

namespace dmascope::tokenizer_detail {

namespace {

// Printable bytes stand for themselves; the other 68 (controls, space, DEL, NBSP, soft hyphen) are moved to U+0100
// onwards in byte order, so every byte has a visible, non-whitespace character.
struct ByteLevelAlphabet {
  std::array<std::string, 256> char_of_byte;
  std::array<int, 512> byte_of_char;  // -1 where the character is not in the alphabet

  ByteLevelAlphabet() {
    byte_of_char.fill(-1);
    char32_t next_unused = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
      const char32_t code_point = printable ? static_cast<char32_t>(byte) : next_unused++;
      append_utf8(char_of_byte[byte], code_point);
      byte_of_char[code_point] = byte;
    }
  }
};

const ByteLevelAlphabet& byte_level_alphabet() {
  static const ByteLevelAlphabet alphabet;
  return alphabet;
}

const Pattern& gpt2_word_pattern() {
  static const Pattern pattern = Pattern::regex(kGpt2WordRegex, "ByteLevel pre-tokenizer");
  return pattern;
}

void split_into(const TextPiece& piece, const Pattern& pattern, bool invert, SplitBehavior behavior,
                std::vector<TextPiece>& out) {
  std::vector<TextSegment> segments = pattern.segments(piece.text);
  if (invert) {
    for (TextSegment& segment : segments) segment.is_match = !segment.is_match;
  }
  for (const TextSegment& range : apply_split_behavior(std::move(segments), behavior)) {
    if (range.end > range.begin) out.push_back(piece.slice(range.begin, range.end));
  }
}

void prepend(TextPiece& piece, std::string_view prefix) {
  piece.text.insert(0, prefix);
  piece.origin.insert(piece.origin.begin(), prefix.size(), piece.origin.front());
}

PreTokenizer::Step split_step(Pattern pattern, SplitBehavior behavior, bool invert = false) {
  PreTokenizer::Step step{PreTokenizer::Kind::Split, std::move(pattern)};
  step.behavior = behavior;
  step.invert = invert;
  return step;
}

}  // namespace

const std::string& byte_level_char(unsigned char byte) { return byte_level_alphabet().char_of_byte[byte]; }

std::optional<unsigned char> byte_level_byte(char32_t code_point) {
  if (code_point >= 512) return std::nullopt;
  const int byte = byte_level_alphabet().byte_of_char[code_point];
  if (byte < 0) return std::nullopt;
  return static_cast<unsigned char>(byte);
}

PrependScheme parse_prepend_scheme(const JsonField& metaspace) {
  const auto scheme_field = metaspace.optional_member("prepend_scheme");
  PrependScheme scheme = PrependScheme::Always;
  if (scheme_field) {
    const std::string name = scheme_field->as_string();
    if (name == "always") {
      scheme = PrependScheme::Always;
    } else if (name == "first") {
      scheme = PrependScheme::First;
    } else if (name == "never") {
      scheme = PrependScheme::Never;
    } else {
      scheme_field->fail_here("unknown prepend_scheme \"{}\" (expected always, first or never)", name);
    }
  }
  // Files written before prepend_scheme existed say add_prefix_space instead.
  if (const auto legacy = metaspace.optional_member("add_prefix_space"); legacy && !legacy->as_bool()) {
    if (scheme_field && scheme != PrependScheme::Never) {
      legacy->fail_here("add_prefix_space false contradicts prepend_scheme \"{}\"", scheme_field->as_string());
    }
    scheme = PrependScheme::Never;
  }
  return scheme;
}

std::string parse_metaspace_replacement(const JsonField& metaspace) {
  const JsonField field = metaspace.member("replacement");
  const std::string replacement = field.as_string();
  std::size_t offset = 0;
  if (replacement.empty() || (next_code_point(replacement, offset), offset != replacement.size())) {
    field.fail_here("must be exactly one character, got \"{}\"", replacement);
  }
  return replacement;
}

PreTokenizer PreTokenizer::parse(const JsonField& field) {
  PreTokenizer pre_tokenizer;
  if (!field.is_null()) parse_into(field, pre_tokenizer.steps_);
  pre_tokenizer.where_ = field.where();
  return pre_tokenizer;
}

void PreTokenizer::parse_into(const JsonField& field, std::vector<Step>& steps) {
  const std::string type = field.type_name();
  if (type == "Sequence") {
    field.require_shallow_nesting();
    const JsonField list = field.member("pretokenizers");
    list.require_array();
    for (std::size_t i = 0; i < list.value().size(); ++i) parse_into(list.element(i), steps);
  } else if (type == "Split") {
    steps.push_back(split_step(parse_pattern(field.member("pattern")), parse_split_behavior(field.member("behavior")),
                               field.bool_or("invert", false)));
  } else if (type == "ByteLevel") {
    Step step{Kind::ByteLevel, gpt2_word_pattern()};
    step.add_prefix_space = field.bool_or("add_prefix_space", true);
    step.use_regex = field.bool_or("use_regex", true);
    steps.push_back(std::move(step));
  } else if (type == "Metaspace") {
    Step step{Kind::Metaspace, {}};
    step.replacement = parse_metaspace_replacement(field);
    step.prepend_scheme = parse_prepend_scheme(field);
    step.split = field.bool_or("split", true);
    step.pattern = Pattern::literal(step.replacement);
    steps.push_back(std::move(step));
  } else if (type == "Whitespace") {
    // The library's \w+|[^\w\s]+ keeps words and punctuation runs and drops the whitespace between them.
    steps.push_back(split_step(Pattern::regex(R"(\w+|[^\w\s]+)", field.where()), SplitBehavior::Removed, true));
  } else if (type == "WhitespaceSplit") {
    steps.push_back(split_step(Pattern::regex(R"(\s)", field.where()), SplitBehavior::Removed));
  } else if (type == "Digits") {
    const bool individual = field.bool_or("individual_digits", false);
    steps.push_back(split_step(Pattern::regex(R"(\p{N})", field.where()),
                               individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous));
  } else if (type == "Punctuation") {
    // Rust's is_ascii_punctuation (which takes symbols such as $ + < = > ^ ` | ~ too) or the Unicode P categories.
    const auto behavior = field.optional_member("behavior");
    steps.push_back(split_step(Pattern::regex(R"([\p{P}!-/:-@\[-`{-~])", field.where()),
                               behavior ? parse_split_behavior(*behavior) : SplitBehavior::Isolated));
  } else if (type == "CharDelimiterSplit") {
    const JsonField delimiter = field.member("delimiter");
    steps.push_back(split_step(Pattern::literal(delimiter.as_string()), SplitBehavior::Removed));
  } else {
    field.fail_here(
        "unsupported pre-tokenizer type \"{}\" (supported: Sequence, Split, ByteLevel, Metaspace, Whitespace, "
        "WhitespaceSplit, Digits, Punctuation, CharDelimiterSplit)",
        type);
  }
}

void PreTokenizer::apply_step(const Step& step, TextPiece piece, std::vector<TextPiece>& out) {
  switch (step.kind) {
    case Kind::Split:
      split_into(piece, step.pattern, step.invert, step.behavior, out);
      return;
    case Kind::ByteLevel: {
      if (step.add_prefix_space && piece.text.front() != ' ') prepend(piece, " ");
      std::vector<TextPiece> words;
      if (step.use_regex) {
        split_into(piece, step.pattern, false, SplitBehavior::Isolated, words);
      } else {
        words.push_back(std::move(piece));
      }
      // Every byte becomes its alphabet character, so the model sees printable text whatever the input bytes.
      for (const TextPiece& word : words) {
        TextPiece mapped;
        for (std::size_t i = 0; i < word.text.size(); ++i) {
          mapped.append(byte_level_char(static_cast<unsigned char>(word.text[i])), word.origin[i]);
        }
        out.push_back(std::move(mapped));
      }
      return;
    }
    case Kind::Metaspace: {
      TextPiece replaced;
      for (std::size_t i = 0; i < piece.text.size(); ++i) {
        if (piece.text[i] == ' ') {
          replaced.append(step.replacement, piece.origin[i]);
        } else {
          replaced.append(std::string_view(&piece.text[i], 1), piece.origin[i]);
        }
      }
      const bool starts_with_replacement = replaced.text.starts_with(step.replacement);
      // "first" prepends only to the piece that begins the original text, not to text after an added token.
      const bool wants_prefix = step.prepend_scheme == PrependScheme::Always ||
                                (step.prepend_scheme == PrependScheme::First && replaced.starts_original_text());
      if (wants_prefix && !starts_with_replacement) prepend(replaced, step.replacement);
      if (step.split) {
        split_into(replaced, step.pattern, false, SplitBehavior::MergedWithNext, out);
      } else {
        out.push_back(std::move(replaced));
      }
      return;
    }
  }
}

void PreTokenizer::apply(std::vector<TextPiece>& pieces) const {
  auto total_bytes = [&pieces] {
    std::size_t total = 0;
    for (const TextPiece& piece : pieces) total += piece.text.size();
    return total;
  };
  const std::size_t input_bytes = total_bytes();
  const std::size_t limit = growth_limit(input_bytes);
  for (const Step& step : steps_) {
    std::vector<TextPiece> next;
    next.reserve(pieces.size());
    for (TextPiece& piece : pieces) {
      if (piece.added_token_id || piece.text.empty()) {
        if (piece.added_token_id) next.push_back(std::move(piece));
        continue;
      }
      apply_step(step, std::move(piece), next);
    }
    pieces = std::move(next);
    if (total_bytes() > limit)
      fail("{}: pre-tokenizing grew {} bytes of text past {} bytes", where_, input_bytes, limit);
  }
}

}  // namespace dmascope::tokenizer_detail
