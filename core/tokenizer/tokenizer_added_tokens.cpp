#include "core/tokenizer/tokenizer_added_tokens.h"

#include <algorithm>

#include "core/tokenizer/tokenizer_pattern.h"
#include "core/tokenizer/tokenizer_text.h"

namespace dmascope::tokenizer_detail {

namespace {

// A word character in the sense of the regex \w the library checks single_word tokens with.
bool is_word_character(std::string_view character) {
  static const Pattern word = Pattern::regex(R"(\w)", "single_word check");
  const std::vector<TextSegment> segments = word.segments(character);
  return segments.size() == 1 && segments.front().is_match;
}

std::size_t previous_character_start(std::string_view text, std::size_t end) {
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

bool ends_with_word_character(std::string_view text) {
  if (text.empty()) return false;
  return is_word_character(text.substr(previous_character_start(text, text.size())));
}

bool starts_with_word_character(std::string_view text) {
  if (text.empty()) return false;
  return is_word_character(text.substr(0, utf8_length(static_cast<unsigned char>(text.front()))));
}

// Where the run of whitespace that ends at `end` begins.
std::size_t whitespace_run_start(std::string_view text, std::size_t end) {
  while (end > 0) {
    const std::size_t start = previous_character_start(text, end);
    std::size_t next = start;
    if (!is_white_space(next_code_point(text, next))) break;
    end = start;
  }
  return end;
}

// Where the run of whitespace that begins at `begin` ends.
std::size_t whitespace_run_end(std::string_view text, std::size_t begin) {
  while (begin < text.size()) {
    std::size_t next = begin;
    if (!is_white_space(next_code_point(text, next))) break;
    begin = next;
  }
  return begin;
}

}  // namespace

void AddedTokenMatcher::add(const AddedToken& token) {
  if (token.match_text.empty()) return;
  auto& list = by_first_byte_[static_cast<unsigned char>(token.match_text.front())];
  // Longest first; among equally long ones the earlier added stays first.
  const auto position = std::upper_bound(
      list.begin(), list.end(), &token,
      [](const AddedToken* a, const AddedToken* b) { return a->match_text.size() > b->match_text.size(); });
  list.insert(position, &token);
  ++count_;
}

std::optional<AddedTokenMatcher::Found> AddedTokenMatcher::find(std::string_view text, std::size_t from) const {
  for (std::size_t begin = from; begin < text.size(); ++begin) {
    for (const AddedToken* token : by_first_byte_[static_cast<unsigned char>(text[begin])]) {
      if (text.substr(begin).starts_with(token->match_text))
        return Found{begin, begin + token->match_text.size(), token};
    }
  }
  return std::nullopt;
}

std::vector<TextPiece> split_on_added_tokens(const TextPiece& piece, const AddedTokenMatcher& matcher) {
  std::vector<TextPiece> pieces;
  const std::string_view text = piece.text;
  if (matcher.empty()) {
    if (!text.empty()) pieces.push_back(piece);
    return pieces;
  }
  std::size_t kept_until = 0;  // end of the last piece emitted
  std::size_t search_from = 0;
  while (const auto found = matcher.find(text, search_from)) {
    std::size_t begin = found->begin, end = found->end;
    search_from = end;
    const AddedToken& token = *found->token;
    if (token.single_word &&
        (ends_with_word_character(text.substr(0, begin)) || starts_with_word_character(text.substr(end)))) {
      continue;  // part of a longer word: leave it to the model
    }
    if (token.lstrip) begin = std::max(whitespace_run_start(text, begin), kept_until);
    if (token.rstrip) {
      end = whitespace_run_end(text, end);
      search_from = end;  // the library would search inside the swallowed whitespace too, overlapping this match
    }
    if (kept_until < begin) pieces.push_back(piece.slice(kept_until, begin));
    TextPiece token_piece = piece.slice(begin, end);
    token_piece.added_token_id = token.id;
    pieces.push_back(std::move(token_piece));
    kept_until = end;
  }
  if (kept_until < text.size()) pieces.push_back(piece.slice(kept_until, text.size()));
  return pieces;
}

}  // namespace dmascope::tokenizer_detail
