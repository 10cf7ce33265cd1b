// libFuzzer target: reading tokenizer.json and encoding / decoding with it never crash; bad input only ever raises
// dmascope::Error. The first byte picks the mode:
//  even: the rest is a tokenizer.json; when it loads, it also encodes and decodes a fixed sample text, so that odd but
//        accepted settings (regexes, strip counts, templates) get run too;
//  odd:  the rest is text, encoded with and without special tokens and decoded back, by the tokenizer that
//        DMASCOPE_FUZZ_TOKENIZER names (e.g. a fixture), or when that is unset by a built-in one that uses most of
//        the supported components at once.
// Accepted results must hold together: ids inside the vocabulary, decodes that are valid UTF-8, labels for every id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/error.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/tokenizer_text.h"

namespace {

using dmascope::Tokenizer;

// Added tokens, a normalizer, a Split + Digits + Metaspace pre-tokenizer, BPE with byte fallback and fused unknowns,
// a template and the Llama-2 decoder chain: text exercises all of them together.
std::string built_in_tokenizer_json() {
  nlohmann::json vocab = nlohmann::json::object();
  std::int32_t next_id = 0;
  auto add = [&](const std::string& token) {
    if (!vocab.contains(token)) vocab[token] = next_id++;
  };
  for (const char* special : {"<unk>", "<s>", "<mask>"}) add(special);
  add("\xe2\x96\x81");  // ▁
  for (char c = '!'; c <= '~'; ++c) add(std::string(1, c));
  for (int byte = 0; byte < 256; ++byte) add(fmt::format("<0x{:02X}>", byte));
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"\xe2\x96\x81", "t"}, {"h", "e"}, {"\xe2\x96\x81t", "he"}, {"i", "n"}, {"\xe2\x96\x81", "a"}, {"e", "r"}};
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& [left, right] : merges) {
    add(left + right);
    merge_list.push_back({left, right});
  }
  const nlohmann::json tokenizer = {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
        {{"id", 2},
         {"content", "<mask>"},
         {"special", true},
         {"lstrip", true},
         {"rstrip", true},
         {"normalized", false}},
        {{"id", next_id}, {"content", "hello"}, {"single_word", true}, {"normalized", true}}}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Lowercase"}}, {{"type", "Replace"}, {"pattern", {{"Regex", "\\s{3,}"}}}, {"content", "  "}}}}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", "\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s+(?!\\S)|\\s+"}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "Digits"}, {"individual_digits", true}},
          {{"type", "Metaspace"}, {"replacement", "\xe2\x96\x81"}, {"prepend_scheme", "first"}, {"split", true}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", "<s> $A"},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\xe2\x96\x81"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", vocab},
        {"merges", merge_list},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true}}}};
  return tokenizer.dump();
}

std::unique_ptr<Tokenizer> load_text_tokenizer() {
  if (const char* path = std::getenv("DMASCOPE_FUZZ_TOKENIZER"); path && *path) {
    return std::make_unique<Tokenizer>(Tokenizer::load(path));  // a bad path is the runner's mistake: let it throw
  }
  return std::make_unique<Tokenizer>(Tokenizer::from_json_text(built_in_tokenizer_json(), "built-in"));
}

void require(bool holds) {
  if (!holds) std::abort();
}

// Encodes and decodes `text` every way there is and checks that what comes back holds together.
void exercise(const Tokenizer& tokenizer, std::string_view text) {
  for (const bool add_special_tokens : {false, true}) {
    const std::vector<std::int32_t> ids = tokenizer.encode(text, add_special_tokens);
    for (const std::int32_t id : ids) require(id >= 0 && id < tokenizer.vocab_size());
    for (const bool skip_special_tokens : {false, true}) {
      const std::string decoded = tokenizer.decode(ids, skip_special_tokens);
      require(!dmascope::tokenizer_detail::find_invalid_utf8(decoded));
    }
    // A label is only ever blank for a token that is itself the empty string.
    for (const std::int32_t id : ids)
      require(!tokenizer.token_display(id).empty() || tokenizer.id_to_token(id).empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    try {
      const Tokenizer tokenizer = Tokenizer::from_json_text(rest, "fuzz/tokenizer.json");
      exercise(tokenizer, "Hello <s> w\xc3\xb6rld  123\n\t\xe4\xb8\x96 \xf0\x9f\x99\x82 it's");
    } catch (const dmascope::Error&) {
    }
    return 0;
  }
  static const std::unique_ptr<Tokenizer> tokenizer = load_text_tokenizer();
  try {
    exercise(*tokenizer, rest);
  } catch (const dmascope::Error&) {
    // Only text that is not UTF-8 may be refused.
    require(dmascope::tokenizer_detail::find_invalid_utf8(rest).has_value());
  }
  return 0;
}
