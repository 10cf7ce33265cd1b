// libFuzzer target: the tokenizer's normalizers (Sequence, Prepend, Replace, Lowercase, Strip) on fuzzed settings and
// fuzzed text never crash and never grow the text past the growth limit: a Replace that multiplies the text must stop
// with dmascope::Error at the limit, inside the step, not after it allocated gigabytes (-malloc_limit_mb catches
// that). Input: the normalizer's JSON, a NUL byte, then the text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/base/error.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/tokenizer_text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\0');
  if (split == std::string_view::npos) return 0;
  const std::string_view normalizer = input.substr(0, split), text = input.substr(split + 1);
  // A vocabulary of every byte's token, so that any normalized text encodes; one added token that is normalized at
  // load, so that the normalizer runs on added tokens too.
  const std::string json = std::string(R"({"version": "1.0", "added_tokens": [{"id": 0, "content": "a b",
      "normalized": true}], "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [],
      "unk_token": "a"}, "normalizer": )") + std::string(normalizer) + "}";
  try {
    const dmascope::Tokenizer tokenizer = dmascope::Tokenizer::from_json_text(json, "fuzz/tokenizer.json");
    const auto ids = tokenizer.encode(text, false);
    if (ids.size() > dmascope::tokenizer_detail::growth_limit(text.size())) std::abort();
  } catch (const dmascope::Error&) {
  }
  return 0;
}
