// tokenizer.json's "pre_tokenizer": cuts normalized text into the words the BPE model merges within.
// Supported: null, Sequence, Split, ByteLevel, Metaspace, Whitespace, WhitespaceSplit, Digits, Punctuation,
// CharDelimiterSplit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer_json.h"
#include "core/tokenizer/tokenizer_pattern.h"
#include "core/tokenizer/tokenizer_piece.h"

namespace dmascope::tokenizer_detail {

// GPT-2's word pattern, which the ByteLevel pre-tokenizer splits with when use_regex is on.
inline constexpr std::string_view kGpt2WordRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// GPT-2's reversible map from the 256 byte values to printable characters (the ByteLevel alphabet), and back.
const std::string& byte_level_char(unsigned char byte);  // as UTF-8
std::optional<unsigned char> byte_level_byte(char32_t code_point);

// Metaspace's prepend_scheme: put the replacement character before every word-run, only before the one that starts the
// text, or never. Shared with the Metaspace decoder, which drops what the pre-tokenizer prepended.
enum class PrependScheme { Always, First, Never };
PrependScheme parse_prepend_scheme(const JsonField& metaspace);
std::string parse_metaspace_replacement(const JsonField& metaspace);  // exactly one character

class PreTokenizer {
 public:
  static PreTokenizer parse(const JsonField& field);  // null -> the text stays one word

  // Splits every piece that is not an added token; pieces that end up empty are dropped.
  void apply(std::vector<TextPiece>& pieces) const;

  // The parsed form: Sequence is flattened; Whitespace, WhitespaceSplit, Digits, Punctuation and CharDelimiterSplit
  // are Splits with fixed patterns.
  enum class Kind { Split, ByteLevel, Metaspace };
  struct Step {
    Kind kind;
    Pattern pattern{};  // Split (and the ByteLevel word regex)
    SplitBehavior behavior = SplitBehavior::Isolated;
    bool invert = false;
    bool add_prefix_space = false;  // ByteLevel
    bool use_regex = false;         // ByteLevel
    std::string replacement{};      // Metaspace, one character
    PrependScheme prepend_scheme = PrependScheme::Always;
    bool split = true;  // Metaspace
  };

 private:
  static void parse_into(const JsonField& field, std::vector<Step>& steps);
  static void apply_step(const Step& step, TextPiece piece, std::vector<TextPiece>& out);

  std::vector<Step> steps_;
  std::string where_;  // "file: field 'pre_tokenizer'", for errors while pre-tokenizing
};

}  // namespace dmascope::tokenizer_detail
