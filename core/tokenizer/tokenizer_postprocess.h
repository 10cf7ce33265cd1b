// tokenizer.json's "post_processor": what encode(text, add_special_tokens = true) wraps around the ids of a single
// sequence. Supported: null, TemplateProcessing (its "single" template), BertProcessing, RobertaProcessing, ByteLevel
// (offsets only, so nothing to do on ids) and Sequence.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/tokenizer/tokenizer_json.h"

namespace dmascope::tokenizer_detail {

class PostProcessor {
 public:
  // Every id a template would add must be one that `id_exists` accepts: encode() never returns an id decode() refuses.
  using IdCheck = std::function<bool(std::int32_t)>;
  static PostProcessor parse(const JsonField& field, const IdCheck& id_exists);

  std::vector<std::int32_t> add_special_tokens(std::vector<std::int32_t> ids) const;

 private:
  // A single-sequence template, parsed: runs of special-token ids and the place of the sequence itself. A Sequence of
  // processors keeps one template per member, applied in turn.
  struct TemplateItem {
    bool is_sequence = false;
    std::vector<std::int32_t> ids;  // the special token's ids when !is_sequence
  };
  using Template = std::vector<TemplateItem>;
  static void parse_into(const JsonField& field, const IdCheck& id_exists, std::vector<Template>& templates);
  static Template parse_template(const JsonField& processor, const IdCheck& id_exists);

  std::vector<Template> templates_;
};

}  // namespace dmascope::tokenizer_detail
