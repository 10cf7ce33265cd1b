// tokenizer.json's "normalizer": rewrites each stretch of text between added tokens before it is pre-tokenized.
// Supported: null, Sequence, Prepend, Replace (String or Regex pattern), Lowercase, Strip. The Unicode normal forms
// (NFC, NFKC, NFD, NFKD) need Unicode composition tables that dmascope does not carry, so they are refused by name.
#pragma once

#include <string>
#include <vector>

#include "core/tokenizer/tokenizer_json.h"
#include "core/tokenizer/tokenizer_pattern.h"
#include "core/tokenizer/tokenizer_piece.h"

namespace dmascope::tokenizer_detail {

class Normalizer {
 public:
  static Normalizer parse(const JsonField& field);  // null -> no normalizer

  bool empty() const { return steps_.empty(); }
  // Fails (naming the normalizer) as soon as the text would grow past growth_limit() of its size, or past
  // `max_bytes`: checked inside each step as it writes, so a Replace that multiplies the text stops at the limit
  // instead of after allocating gigabytes.
  void apply(TextPiece& piece) const;
  void apply(TextPiece& piece, std::size_t max_bytes) const;
  std::string apply(const std::string& text, std::size_t max_bytes) const;  // for added tokens marked "normalized"

 private:
  enum class Kind { Prepend, Replace, Lowercase, Strip };
  struct Step {
    Kind kind;
    std::string text;  // Prepend: what to prepend; Replace: the replacement
    Pattern pattern;   // Replace
    bool strip_left = false, strip_right = false;
  };
  static void parse_into(const JsonField& field, std::vector<Step>& steps);

  std::vector<Step> steps_;
  std::string where_;  // "file: field 'normalizer'", for errors while normalizing
};

}  // namespace dmascope::tokenizer_detail
