#include "core/tokenizer/tokenizer.h"

#include <charconv>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"
#include "core/tokenizer/tokenizer_added_tokens.h"
#include "core/tokenizer/tokenizer_bpe.h"
#include "core/tokenizer/tokenizer_decode.h"
#include "core/tokenizer/tokenizer_json.h"
#include "core/tokenizer/tokenizer_normalize.h"
#include "core/tokenizer/tokenizer_postprocess.h"
#include "core/tokenizer/tokenizer_pretokenize.h"
#include "core/tokenizer/tokenizer_text.h"

namespace dmascope {

using namespace tokenizer_detail;

struct Tokenizer::Impl {
  std::string source;
  std::vector<AddedToken> added_tokens;  // never resized after loading: the matchers point into it
  std::unordered_map<std::int32_t, const AddedToken*> added_token_of_id;
  StringMap<std::int32_t> added_token_ids;  // by content
  StringMap<bool> special_contents;         // contents of the special tokens
  AddedTokenMatcher raw_text_matcher;       // tokens with normalized = false
  AddedTokenMatcher normalized_text_matcher;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  BpeModel model;
  PostProcessor post_processor;
  Decoder decoder;
  std::int32_t vocab_size = 0;

  void load(const JsonField& root);
  void load_added_tokens(const JsonField& list);
  std::vector<TextPiece> pre_tokenized(std::string_view text) const;
  const std::string* token_of(std::int32_t id) const;
  bool is_special_token(const std::string& token) const;
};

namespace {

// A component such as "normalizer": absent and null both mean "none".
JsonField component(const JsonField& root, std::string_view key) {
  static const nlohmann::json null_value;
  if (auto field = root.optional_member(key)) return *field;
  return JsonField(null_value, root.source(), std::string(key));
}

}  // namespace

void Tokenizer::Impl::load(const JsonField& root) {
  if (!root.value().is_object()) {
    fail("{}: the top level must be a JSON object, got {}", root.source(), json_kind(root.value()));
  }
  model = BpeModel::parse(root.member("model"));
  normalizer = Normalizer::parse(component(root, "normalizer"));
  pre_tokenizer = PreTokenizer::parse(component(root, "pre_tokenizer"));
  decoder = Decoder::parse(component(root, "decoder"));
  if (const auto list = root.optional_member("added_tokens")) load_added_tokens(*list);  // after the normalizer
  post_processor = PostProcessor::parse(component(root, "post_processor"),
                                        [this](std::int32_t id) { return token_of(id) != nullptr; });
  // "truncation" and "padding" shape batches for training; a visualiser wants every token of the text, so they are
  // not applied.

  std::int32_t max_id = model.max_id();
  for (const AddedToken& token : added_tokens) max_id = std::max(max_id, token.id);
  vocab_size = max_id + 1;
}

void Tokenizer::Impl::load_added_tokens(const JsonField& list) {
  list.require_array();
  added_tokens.reserve(list.value().size());
  // All normalized added tokens together may take this much: each is bounded by the normalizer's growth limit, but
  // 1M one-byte tokens that each grow to 4 KB would still take 4 GB at load.
  constexpr std::size_t kMaxNormalizedTokenBytes = 64ull << 20;
  std::size_t normalized_bytes = 0;
  std::unordered_map<std::int32_t, std::size_t> index_of_id;  // a hash lookup: a pairwise check was n² for n tokens
  for (std::size_t i = 0; i < list.value().size(); ++i) {
    const JsonField entry = list.element(i);
    AddedToken token;
    token.id = entry.member("id").as_token_id();
    token.content = entry.string_member("content");
    token.special = entry.bool_or("special", false);
    token.single_word = entry.bool_or("single_word", false);
    token.lstrip = entry.bool_or("lstrip", false);
    token.rstrip = entry.bool_or("rstrip", false);
    token.normalized = entry.bool_or("normalized", !token.special);
    if (token.content.empty()) continue;  // the library ignores empty added tokens
    // A normalized token is looked for in normalized text, so it is looked for in its normalized form.
    if (token.normalized) {
      token.match_text = normalizer.apply(token.content, kMaxNormalizedTokenBytes - normalized_bytes);
      normalized_bytes += token.match_text.size();
    } else {
      token.match_text = token.content;
    }
    const auto [earlier, first] = index_of_id.emplace(token.id, added_tokens.size());
    if (!first && added_tokens[earlier->second].content != token.content)
      entry.member("id").fail_here("id {} is given to both \"{}\" and \"{}\"", token.id,
                                   printable(added_tokens[earlier->second].content), printable(token.content));
    added_tokens.push_back(std::move(token));
  }
  for (const AddedToken& token : added_tokens) {
    added_token_of_id[token.id] = &token;
    added_token_ids.emplace(token.content, token.id);
    if (token.special) special_contents.emplace(token.content, true);
    (token.normalized ? normalized_text_matcher : raw_text_matcher).add(token);
  }
}

const std::string* Tokenizer::Impl::token_of(std::int32_t id) const {
  if (const auto it = added_token_of_id.find(id); it != added_token_of_id.end()) return &it->second->match_text;
  return model.id_to_token(id);
}

bool Tokenizer::Impl::is_special_token(const std::string& token) const {
  // The library decides by the token's string, so a vocab entry spelled like a special token counts as special too.
  return special_contents.contains(token);
}

std::vector<TextPiece> Tokenizer::Impl::pre_tokenized(std::string_view text) const {
  TextPiece whole;
  whole.text = std::string(text);
  whole.origin.resize(text.size());
  for (std::size_t offset = 0; offset < text.size();) {
    const std::size_t length = utf8_length(static_cast<unsigned char>(text[offset]));
    for (std::size_t i = 0; i < length; ++i) whole.origin[offset + i] = static_cast<std::uint32_t>(offset);
    offset += length;
  }

  // Added tokens are found in the raw text first; the text between them is normalized and searched again for the
  // tokens that are matched in normalized form.
  std::vector<TextPiece> pieces;
  for (TextPiece& piece : split_on_added_tokens(whole, raw_text_matcher)) {
    if (piece.added_token_id) {
      pieces.push_back(std::move(piece));
      continue;
    }
    normalizer.apply(piece);
    for (TextPiece& part : split_on_added_tokens(piece, normalized_text_matcher)) pieces.push_back(std::move(part));
  }
  pre_tokenizer.apply(pieces);
  return pieces;
}

Tokenizer Tokenizer::from_json_text(std::string_view json_text, std::string_view source_name) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& error) {
    fail("{}: not valid JSON: {}", source_name, error.what());
  }
  auto impl = std::make_shared<Impl>();
  impl->source = std::string(source_name);
  try {
    impl->load(JsonField(root, source_name, ""));
  } catch (const nlohmann::json::exception& error) {
    // The typed readers check before they convert; this is a safety net, not an expected path.
    fail("{}: unexpected JSON content: {}", source_name, error.what());
  }
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::load(const std::filesystem::path& tokenizer_json) {
  // The largest published tokenizer.json files are tens of megabytes; the cap stops /dev/zero-like inputs.
  constexpr std::uint64_t kMaxTokenizerBytes = 256ull << 20;
  return from_json_text(read_regular_file(tokenizer_json, "the tokenizer file", kMaxTokenizerBytes),
                        printable(tokenizer_json.string()));
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (const auto bad_byte = find_invalid_utf8(text)) {
    fail("{}: the text to encode is not valid UTF-8 (byte {} of {})", impl_->source, *bad_byte, text.size());
  }
  if (text.size() > std::numeric_limits<std::uint32_t>::max()) {
    fail("{}: the text to encode is {} bytes; at most 4 GiB is supported", impl_->source, text.size());
  }
  std::vector<std::int32_t> ids;
  for (const TextPiece& piece : impl_->pre_tokenized(text)) {
    if (piece.added_token_id) {
      ids.push_back(*piece.added_token_id);
    } else {
      impl_->model.tokenize(piece.text, ids);
    }
  }
  return add_special_tokens ? impl_->post_processor.add_special_tokens(std::move(ids)) : ids;
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const std::int32_t id : ids) {
    const std::string* token = impl_->token_of(id);
    if (!token)
      fail("{}: cannot decode id {}: the vocabulary has no such id (size {})", impl_->source, id, vocab_size());
    if (skip_special_tokens && impl_->is_special_token(*token)) continue;
    tokens.push_back(*token);
  }
  return impl_->decoder.decode(std::move(tokens));
}

std::string Tokenizer::id_to_token(std::int32_t id) const {
  const std::string* token = impl_->token_of(id);
  if (!token) fail("{}: id {} is not in the vocabulary (size {})", impl_->source, id, vocab_size());
  return *token;
}

namespace {

// The bytes a byte-level ("Ã" is 0xC3) or byte-fallback ("<0xE2>") token stands for; nothing for other tokens.
std::optional<std::string> raw_token_bytes(const std::string& token) {
  if (token.size() == 6 && token.starts_with("<0x") && token.back() == '>') {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(token.data() + 3, token.data() + 5, value, 16);
    if (error == std::errc() && end == token.data() + 5) return std::string(1, static_cast<char>(value));
  }
  std::string bytes;
  std::size_t offset = 0;
  while (offset < token.size()) {
    const auto byte = tokenizer_detail::byte_level_byte(tokenizer_detail::next_code_point(token, offset));
    if (!byte) return std::nullopt;
    bytes += static_cast<char>(*byte);
  }
  return bytes;
}

}  // namespace

std::string Tokenizer::token_display(std::int32_t id) const {
  const std::string token = id_to_token(id);
  if (is_special(id)) return printable(token);  // a special token's text is shown as it is, control bytes escaped
  std::string text = decode(std::span(&id, 1));
  if (text.empty()) text = token;
  // A token that is part of a multi-byte character decodes to U+FFFD: show its bytes instead ("<0xE2>"), so that the
  // three tokens of "→" read <0xE2><0x86><0x92>, not three identical "\uFFFD".
  if (text.find(tokenizer_detail::kReplacementCharacter) != std::string::npos &&
      token.find(tokenizer_detail::kReplacementCharacter) == std::string::npos)
    if (auto bytes = raw_token_bytes(token)) text = std::move(*bytes);
  std::string label;
  std::size_t offset = 0;
  while (offset < text.size()) {
    const std::size_t start = offset;
    // A byte that does not start a well-formed character (a cut multi-byte one): shown as its value.
    if (tokenizer_detail::find_invalid_utf8(std::string_view(text).substr(offset, 4)) == std::size_t{0}) {
      label += fmt::format("<0x{:02X}>", static_cast<unsigned char>(text[offset]));
      ++offset;
      continue;
    }
    const char32_t code_point = tokenizer_detail::next_code_point(text, offset);
    if (code_point == ' ') {
      label += "\u2423";  // ␣
    } else if (code_point == '\n') {
      label += "\u21B5";  // ↵
    } else if (code_point == '\t') {
      label += "\u21E5";  // ⇥
    } else if (code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F)) {
      label += fmt::format("\\x{:02X}", static_cast<unsigned>(code_point));
    } else {
      label.append(text, start, offset - start);
    }
  }
  return label;
}

std::int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

bool Tokenizer::is_special(std::int32_t id) const {
  const std::string* token = impl_->token_of(id);
  return token && impl_->is_special_token(*token);
}

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const auto it = impl_->added_token_ids.find(token); it != impl_->added_token_ids.end()) return it->second;
  return impl_->model.token_to_id(token);
}

}  // namespace dmascope
