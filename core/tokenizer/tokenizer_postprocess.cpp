#include "core/tokenizer/tokenizer_postprocess.h"

#include <sstream>

namespace dmascope::tokenizer_detail {

namespace {

// The ids of a special token named in a template, from the processor's "special_tokens" table.
std::vector<std::int32_t> special_token_ids(const JsonField& processor, const JsonField& reference,
                                            const std::string& name, const PostProcessor::IdCheck& id_exists) {
  const auto table = processor.optional_member("special_tokens");
  const auto entry = table ? table->optional_member(name) : std::nullopt;
  if (!entry) reference.fail_here("special token \"{}\" is not in special_tokens", name);
  const JsonField ids = entry->member("ids");
  ids.require_array();
  std::vector<std::int32_t> result;
  for (std::size_t i = 0; i < ids.value().size(); ++i) {
    const JsonField id = ids.element(i);
    result.push_back(id.as_token_id());
    if (!id_exists(result.back())) id.fail_here("id {} is not in the vocabulary", result.back());
  }
  return result;
}

// "$A", "$B", "$0", "$1" or "$" name a sequence; with ":type_id" after it or not.
bool names_sequence(std::string_view piece, const JsonField& where) {
  if (!piece.starts_with('$')) return false;
  std::string_view name = piece.substr(1);
  name = name.substr(0, name.find(':'));
  if (name.empty() || name == "A" || name == "0") return true;
  if (name == "B" || name == "1") where.fail_here("the single-sequence template refers to the second sequence $B");
  where.fail_here("\"{}\" is not a sequence of the template (expected $A or $B)", piece);
}

// The [token, id] pair BertProcessing and RobertaProcessing give for "cls" and "sep".
std::int32_t processing_token_id(const JsonField& processor, std::string_view key,
                                 const PostProcessor::IdCheck& id_exists) {
  const JsonField pair = processor.member(key);
  pair.require_array();
  if (pair.value().size() != 2) pair.fail_here("must be a [token, id] pair");
  const std::int32_t id = pair.element(1).as_token_id();
  if (!id_exists(id)) pair.element(1).fail_here("id {} is not in the vocabulary", id);
  return id;
}

}  // namespace

PostProcessor PostProcessor::parse(const JsonField& field, const IdCheck& id_exists) {
  PostProcessor processor;
  if (!field.is_null()) parse_into(field, id_exists, processor.templates_);
  return processor;
}

void PostProcessor::parse_into(const JsonField& field, const IdCheck& id_exists, std::vector<Template>& templates) {
  const std::string type = field.type_name();
  if (type == "Sequence") {
    field.require_shallow_nesting();
    const JsonField list = field.member("processors");
    list.require_array();
    for (std::size_t i = 0; i < list.value().size(); ++i) parse_into(list.element(i), id_exists, templates);
  } else if (type == "TemplateProcessing") {
    templates.push_back(parse_template(field, id_exists));
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    templates.push_back(Template{{false, {processing_token_id(field, "cls", id_exists)}},
                                 {true, {}},
                                 {false, {processing_token_id(field, "sep", id_exists)}}});
  } else if (type == "ByteLevel") {
    // Adjusts offsets only; the ids stay as they are.
  } else {
    field.fail_here(
        "unsupported post-processor type \"{}\" (supported: TemplateProcessing, BertProcessing, RobertaProcessing, "
        "ByteLevel, Sequence)",
        type);
  }
}

PostProcessor::Template PostProcessor::parse_template(const JsonField& processor, const IdCheck& id_exists) {
  const JsonField single = processor.member("single");
  Template result;
  if (single.value().is_string()) {
    // The short form: "<s> $A" or "[CLS]:0 $A:0 [SEP]:0".
    std::istringstream words(single.as_string());
    std::string word;
    while (words >> word) {
      if (names_sequence(word, single)) {
        result.push_back({true, {}});
      } else {
        result.push_back({false, special_token_ids(processor, single, word.substr(0, word.find(':')), id_exists)});
      }
    }
    return result;
  }
  single.require_array();
  for (std::size_t i = 0; i < single.value().size(); ++i) {
    const JsonField item = single.element(i);
    item.require_object();
    if (const auto special = item.optional_member("SpecialToken")) {
      result.push_back({false, special_token_ids(processor, *special, special->string_member("id"), id_exists)});
    } else if (const auto sequence = item.optional_member("Sequence")) {
      const std::string id = sequence->string_member("id");
      if (id != "A")
        sequence->member("id").fail_here("the single-sequence template can only hold sequence A, not {}", id);
      result.push_back({true, {}});
    } else {
      item.fail_here("must be {{\"SpecialToken\": ...}} or {{\"Sequence\": ...}}");
    }
  }
  return result;
}

std::vector<std::int32_t> PostProcessor::add_special_tokens(std::vector<std::int32_t> ids) const {
  for (const Template& wrap : templates_) {
    std::vector<std::int32_t> wrapped;
    wrapped.reserve(ids.size() + 8);
    for (const TemplateItem& item : wrap) {
      const std::vector<std::int32_t>& part = item.is_sequence ? ids : item.ids;
      wrapped.insert(wrapped.end(), part.begin(), part.end());
    }
    ids = std::move(wrapped);
  }
  return ids;
}

}  // namespace dmascope::tokenizer_detail
