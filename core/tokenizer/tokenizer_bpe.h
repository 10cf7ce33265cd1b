// tokenizer.json's "model" when its type is BPE: the vocabulary, the ranked merges and the rules for characters the
// vocabulary lacks (unk_token, fuse_unk, byte_fallback). Turns one pre-tokenized word into token ids.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/tokenizer_json.h"

namespace dmascope::tokenizer_detail {

// Lets unordered_map<std::string, ...> be searched with a string_view without building a std::string.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
template <class Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  static BpeModel parse(const JsonField& model);

  // Appends the ids of one word (a piece the pre-tokenizer produced); the same word always gives the same ids.
  void tokenize(std::string_view word, std::vector<std::int32_t>& ids) const;

  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(std::int32_t id) const;  // nullptr when the vocab has no such id
  std::int32_t max_id() const { return max_id_; }         // -1 for an empty vocab

 private:
  struct Merge {
    std::int32_t rank;
    std::int32_t merged_id;
  };
  struct WordCache;

  std::vector<std::int32_t> merge_word(std::string_view word) const;
  const Merge* find_merge(std::int32_t left, std::int32_t right) const;

  std::string source_;  // the file, for the encode-time error about a missing unk_token
  StringMap<std::int32_t> vocab_;
  std::unordered_map<std::int32_t, std::string> token_of_id_;
  std::int32_t max_id_ = -1;
  std::unordered_map<std::uint64_t, Merge> merges_;  // key: left id << 32 | right id
  std::optional<std::string> unk_token_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::array<std::int32_t, 256> byte_fallback_ids_{};  // id of "<0xXX>" per byte, -1 where the vocab lacks it
  std::shared_ptr<WordCache> cache_;
};

}  // namespace dmascope::tokenizer_detail
