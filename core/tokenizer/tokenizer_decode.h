// tokenizer.json's "decoder": turns the token strings of some ids back into text.
// Supported: null (tokens joined by spaces, as the library does), Sequence, ByteLevel, Metaspace, Replace,
// ByteFallback, Fuse, Strip, BPEDecoder.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer_json.h"
#include "core/tokenizer/tokenizer_pattern.h"
#include "core/tokenizer/tokenizer_pretokenize.h"

namespace dmascope::tokenizer_detail {

class Decoder {
 public:
  static Decoder parse(const JsonField& field);

  std::string decode(std::vector<std::string> tokens) const;

 private:
  enum class Kind { ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BpeSuffix };
  struct Step {
    Kind kind;
    Pattern pattern;   // Replace
    std::string text;  // Replace: the replacement; Metaspace: the replacement character; Strip: the character
                       // stripped; BpeSuffix: the end-of-word suffix
    PrependScheme prepend_scheme = PrependScheme::Always;  // Metaspace
    std::size_t strip_start = 0, strip_stop = 0;           // Strip: at most this many from each end
  };
  // The growth bound of one decode(): checked inside a step, before it writes, not after it.
  struct GrowthBound {
    std::size_t input_bytes, limit;
    std::string_view where;
    void check(std::size_t bytes) const;
  };
  static void parse_into(const JsonField& field, std::vector<Step>& steps);
  static std::vector<std::string> apply(const Step& step, std::vector<std::string> tokens, const GrowthBound& bound);

  bool present_ = false;
  std::vector<Step> steps_;
  std::string where_;  // "file: field 'decoder'", for errors while decoding
};

}  // namespace dmascope::tokenizer_detail
