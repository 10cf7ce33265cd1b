#include "core/tokenizer/tokenizer_decode.h"

#include "core/base/error.h"
#include "core/tokenizer/tokenizer_text.h"

namespace dmascope::tokenizer_detail {

namespace {

std::string join(const std::vector<std::string>& tokens, std::string_view separator) {
  std::string joined;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) joined += separator;
    joined += tokens[i];
  }
  return joined;
}

// All tokens' bytes, each token read through the ByteLevel alphabet when every one of its characters is in it and
// taken as it is otherwise (an added token such as "<|end_of_text|>"), then made valid UTF-8.
std::vector<std::string> decode_byte_level(const std::vector<std::string>& tokens) {
  std::string bytes;
  for (const std::string& token : tokens) {
    std::string token_bytes;
    bool all_in_alphabet = true;
    std::size_t offset = 0;
    while (offset < token.size() && all_in_alphabet) {
      const auto byte = byte_level_byte(next_code_point(token, offset));
      all_in_alphabet = byte.has_value();
      if (byte) token_bytes += static_cast<char>(*byte);
    }
    bytes += all_in_alphabet ? token_bytes : token;
  }
  return {utf8_lossy(bytes)};
}

// "<0xAB>" -> 0xAB. Rust's u8::from_str_radix, which the library uses, also takes a '+' sign: "<0x+A>" is 0x0A.
std::optional<unsigned char> byte_fallback_value(const std::string& token) {
  if (token.size() != 6 || !token.starts_with("<0x") || token.back() != '>') return std::nullopt;
  auto hex_digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int high = token[3] == '+' ? 0 : hex_digit(token[3]);
  const int low = hex_digit(token[4]);
  if (high < 0 || low < 0) return std::nullopt;
  return static_cast<unsigned char>(high * 16 + low);
}

// Runs of <0xXX> tokens become the text their bytes spell; a run that is not valid UTF-8 becomes one U+FFFD per byte.
std::vector<std::string> decode_byte_fallback(std::vector<std::string> tokens) {
  std::vector<std::string> out;
  std::string pending_bytes;
  std::size_t pending_count = 0;
  auto flush = [&] {
    if (pending_count == 0) return;
    if (!find_invalid_utf8(pending_bytes)) {
      out.push_back(pending_bytes);
    } else {
      for (std::size_t i = 0; i < pending_count; ++i) out.emplace_back(kReplacementCharacter);
    }
    pending_bytes.clear();
    pending_count = 0;
  };
  for (std::string& token : tokens) {
    if (const auto byte = byte_fallback_value(token)) {
      pending_bytes += static_cast<char>(*byte);
      ++pending_count;
    } else {
      flush();
      out.push_back(std::move(token));
    }
  }
  flush();
  return out;
}

std::string strip_characters(const std::string& token, const std::string& character, std::size_t start,
                             std::size_t stop) {
  std::string_view rest = token;
  for (std::size_t i = 0; i < start && rest.starts_with(character); ++i) rest.remove_prefix(character.size());
  for (std::size_t i = 0; i < stop && rest.ends_with(character); ++i) rest.remove_suffix(character.size());
  return std::string(rest);
}

std::string replace_all(const std::string& token, const std::string& from, std::string_view to) {
  if (from.empty()) return token;
  std::string out;
  std::size_t offset = 0;
  for (std::size_t at = token.find(from); at != std::string::npos; at = token.find(from, offset)) {
    out.append(token, offset, at - offset);
    out += to;
    offset = at + from.size();
  }
  out.append(token, offset);
  return out;
}

std::size_t strip_count(const JsonField& strip, std::string_view key) {
  const std::int64_t count = strip.int_or(key, 0);
  if (count < 0) strip.member(key).fail_here("must not be negative, got {}", count);
  return static_cast<std::size_t>(count);
}

}  // namespace

Decoder Decoder::parse(const JsonField& field) {
  Decoder decoder;
  if (field.is_null()) return decoder;
  decoder.present_ = true;
  decoder.where_ = field.where();
  parse_into(field, decoder.steps_);
  return decoder;
}

void Decoder::parse_into(const JsonField& field, std::vector<Step>& steps) {
  const std::string type = field.type_name();
  if (type == "Sequence") {
    field.require_shallow_nesting();
    const JsonField list = field.member("decoders");
    list.require_array();
    for (std::size_t i = 0; i < list.value().size(); ++i) parse_into(list.element(i), steps);
  } else if (type == "ByteLevel") {
    steps.push_back(Step{Kind::ByteLevel, {}, {}});
  } else if (type == "Metaspace") {
    Step step{Kind::Metaspace, {}, parse_metaspace_replacement(field)};
    step.prepend_scheme = parse_prepend_scheme(field);
    steps.push_back(std::move(step));
  } else if (type == "Replace") {
    steps.push_back(Step{Kind::Replace, parse_pattern(field.member("pattern")), field.string_member("content")});
  } else if (type == "ByteFallback") {
    steps.push_back(Step{Kind::ByteFallback, {}, {}});
  } else if (type == "Fuse") {
    steps.push_back(Step{Kind::Fuse, {}, {}});
  } else if (type == "Strip") {
    const JsonField content = field.member("content");
    std::string character = content.as_string();
    std::size_t offset = 0;
    if (character.empty() || (next_code_point(character, offset), offset != character.size())) {
      content.fail_here("must be exactly one character, got \"{}\"", character);
    }
    Step step{Kind::Strip, {}, std::move(character)};
    step.strip_start = strip_count(field, "start");
    step.strip_stop = strip_count(field, "stop");
    steps.push_back(std::move(step));
  } else if (type == "BPEDecoder") {
    steps.push_back(Step{Kind::BpeSuffix, {}, field.string_or("suffix", "</w>")});
  } else {
    field.fail_here(
        "unsupported decoder type \"{}\" (supported: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, "
        "Strip, BPEDecoder)",
        type);
  }
}

std::vector<std::string> Decoder::apply(const Step& step, std::vector<std::string> tokens, const GrowthBound& bound) {
  switch (step.kind) {
    case Kind::ByteLevel:
      return decode_byte_level(tokens);
    case Kind::Metaspace:
      // The replacement character is a space again, except in the first token, where the pre-tokenizer put it.
      for (std::size_t i = 0; i < tokens.size(); ++i) {
        const bool drop = i == 0 && step.prepend_scheme != PrependScheme::Never;
        tokens[i] = replace_all(tokens[i], step.text, drop ? "" : " ");
      }
      return tokens;
    case Kind::Replace: {
      // The only step that can multiply the text ("a" -> 64 KiB per match): the bound is checked before every
      // append, over all tokens so far, so that a hostile replacement fails before it allocates, not after.
      std::size_t other_tokens_bytes = 0;
      for (const std::string& token : tokens) other_tokens_bytes += token.size();
      for (std::string& token : tokens) {
        other_tokens_bytes -= token.size();
        std::string replaced;
        for (const TextSegment& segment : step.pattern.segments(token)) {
          const std::size_t piece_bytes = segment.is_match ? step.text.size() : segment.end - segment.begin;
          bound.check(other_tokens_bytes + replaced.size() + piece_bytes);
          if (segment.is_match) {
            replaced += step.text;
          } else {
            replaced.append(token, segment.begin, segment.end - segment.begin);
          }
        }
        token = std::move(replaced);
        other_tokens_bytes += token.size();
      }
      return tokens;
    }
    case Kind::ByteFallback:
      return decode_byte_fallback(std::move(tokens));
    case Kind::Fuse:
      return {join(tokens, "")};
    case Kind::Strip:
      for (std::string& token : tokens) token = strip_characters(token, step.text, step.strip_start, step.strip_stop);
      return tokens;
    case Kind::BpeSuffix:
      // The end-of-word suffix marks a word boundary: a space, except after the last token.
      for (std::size_t i = 0; i < tokens.size(); ++i) {
        tokens[i] = replace_all(tokens[i], step.text, i + 1 == tokens.size() ? "" : " ");
      }
      return tokens;
  }
  return tokens;
}

std::string Decoder::decode(std::vector<std::string> tokens) const {
  if (!present_) return join(tokens, " ");
  std::size_t input_bytes = 0;
  for (const std::string& token : tokens) input_bytes += token.size();
  const GrowthBound bound{input_bytes, growth_limit(input_bytes), where_};
  for (const Step& step : steps_) {
    tokens = apply(step, std::move(tokens), bound);
    // The other steps grow a text by a small factor at most (an invalid byte becomes a 3-byte U+FFFD); checked after.
    std::size_t total_bytes = 0;
    for (const std::string& token : tokens) total_bytes += token.size();
    bound.check(total_bytes);
  }
  return join(tokens, "");
}

void Decoder::GrowthBound::check(std::size_t bytes) const {
  if (bytes > limit) fail("{}: decoding grew {} bytes of tokens past {} bytes", where, input_bytes, limit);
}

}  // namespace dmascope::tokenizer_detail
