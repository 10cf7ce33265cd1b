// A piece of the text being encoded, as it moves from the raw input through added-token splitting, normalization and
// pre-tokenization to the BPE model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmascope::tokenizer_detail {

struct TextPiece {
  std::string text;
  // For each byte of `text`: the byte offset, in the text given to encode(), of the character it stems from. Bytes
  // a normalizer inserts inherit the origin of the character they are attached to. Metaspace's prepend_scheme
  // "first" asks this of the first byte: does this piece begin the original text?
  std::vector<std::uint32_t> origin;
  // Set when the piece is an added token matched in the text: it skips the normalizer, pre-tokenizer and model.
  std::optional<std::int32_t> added_token_id;

  bool starts_original_text() const { return !origin.empty() && origin.front() == 0; }
  TextPiece slice(std::size_t begin, std::size_t end) const {
    return TextPiece{text.substr(begin, end - begin),
                     std::vector<std::uint32_t>(origin.begin() + static_cast<std::ptrdiff_t>(begin),
                                                origin.begin() + static_cast<std::ptrdiff_t>(end)),
                     std::nullopt};
  }
  // Appends bytes that all stem from the character at `from`.
  void append(std::string_view bytes, std::uint32_t from) {
    text.append(bytes);
    origin.insert(origin.end(), bytes.size(), from);
  }
};

}  // namespace dmascope::tokenizer_detail
