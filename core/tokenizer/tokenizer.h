// A Hugging Face tokenizer.json for a BPE model, read and run in C++: encode() gives exactly the ids the `tokenizers`
// library (0.23) gives, decode() exactly its text, for the components Doge and Llama-style checkpoints ship with.
// Anything the file asks for that is not supported is refused when loading, with the file and the field named.
//
// The pipeline of encode(), as in the library: split the text on added tokens (they map straight to their ids), then
// per stretch between them normalize, split again on added tokens marked "normalized", pre-tokenize into words, run
// BPE on each word, and with add_special_tokens wrap the ids by the post-processor's single-sequence template.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dmascope {

class Tokenizer {
 public:
  static Tokenizer load(const std::filesystem::path& tokenizer_json);  // errors name the path
  static Tokenizer from_json_text(std::string_view json_text, std::string_view source_name);

  // `text` must be valid UTF-8 (else Error). Texts of 4 GiB and more are refused.
  std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  // An id outside the vocabulary is an Error (the library skips it silently).
  std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = false) const;

  std::string id_to_token(std::int32_t id) const;  // the raw vocab / added-token string; Error for an unknown id
  // A short printable label for plot axes: decode([id]) with a space shown as "␣", "\n" as "↵", "\t" as "⇥", other
  // control characters as \xNN; special tokens as they are. When decode([id]) is empty (a lone "▁" that the Metaspace
  // decoder drops at the start of a text) the raw token is shown instead, so that no label is blank.
  std::string token_display(std::int32_t id) const;
  std::int32_t vocab_size() const;  // including added tokens: the largest id + 1
  bool is_special(std::int32_t id) const;
  std::optional<std::int32_t> token_to_id(std::string_view token) const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable once loaded, so copies share it and threads may encode at once
};

}  // namespace dmascope
