// tokenizer.json's "added_tokens" (special tokens such as <|begin_of_text|>, and user-added words): found in the text
// before anything else runs, each becoming its own id whatever the model would make of its characters.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer_piece.h"

namespace dmascope::tokenizer_detail {

struct AddedToken {
  std::int32_t id = 0;
  std::string content;
  bool single_word = false;  // only match where no word character touches either end
  bool lstrip = false;       // the match swallows the whitespace before it
  bool rstrip = false;       // ... and after it
  bool normalized = false;   // matched in normalized text, not in the raw text
  bool special = false;      // dropped by decode(skip_special_tokens = true)
  std::string match_text;    // what is searched for: `content`, normalized when `normalized` is set
};

// Finds added tokens the way the library's Aho-Corasick automaton (leftmost-longest) does: the match that starts
// first, the longest of those. The tokens must outlive the matcher.
class AddedTokenMatcher {
 public:
  void add(const AddedToken& token);
  bool empty() const { return count_ == 0; }

  struct Found {
    std::size_t begin, end;
    const AddedToken* token;
  };
  std::optional<Found> find(std::string_view text, std::size_t from) const;

 private:
  std::array<std::vector<const AddedToken*>, 256> by_first_byte_;  // longest first within each list
  std::size_t count_ = 0;
};

// Cuts a piece into added-token pieces (with added_token_id set) and the text between them, honouring single_word,
// lstrip and rstrip. Empty pieces are left out.
std::vector<TextPiece> split_on_added_tokens(const TextPiece& piece, const AddedTokenMatcher& matcher);

}  // namespace dmascope::tokenizer_detail
