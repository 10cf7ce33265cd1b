#include "core/tokenizer/tokenizer_json.h"

#include <limits>

#include "core/base/printable.h"

namespace dmascope::tokenizer_detail {

using nlohmann::json;

void JsonField::require_shallow_nesting() const {
  constexpr std::size_t kMaxDepth = 64;
  if (depth_ > kMaxDepth) fail_here("components are nested more than {} levels deep", kMaxDepth);
}

// The path is made of keys from the file: escaped, so that a key cannot forge a line of output.
std::string JsonField::where() const { return fmt::format("{}: field '{}'", source_, printable(path_)); }

void JsonField::require_object() const {
  if (!value_->is_object()) fail_here("must be an object, got {}", json_kind(*value_));
}

void JsonField::require_array() const {
  if (!value_->is_array()) fail_here("must be an array, got {}", json_kind(*value_));
}

JsonField JsonField::member(std::string_view key) const {
  require_object();
  const std::string child_path = path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  const auto it = value_->find(key);
  if (it == value_->end()) fail("{}: field '{}' is missing", source_, printable(child_path));
  return nested(*it, child_path);
}

std::optional<JsonField> JsonField::optional_member(std::string_view key) const {
  require_object();
  const auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) return std::nullopt;
  return nested(*it, path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key));
}

JsonField JsonField::element(std::size_t index) const {
  require_array();
  return nested((*value_)[index], fmt::format("{}[{}]", path_, index));
}

JsonField JsonField::nested(const nlohmann::json& value, std::string path) const {
  JsonField child(value, source_, std::move(path));
  child.depth_ = depth_ + 1;
  return child;
}

std::string JsonField::as_string() const {
  if (!value_->is_string()) fail_here("must be a string, got {}", json_kind(*value_));
  return value_->get<std::string>();
}

bool JsonField::as_bool() const {
  if (!value_->is_boolean()) fail_here("must be a boolean, got {}", json_kind(*value_));
  return value_->get<bool>();
}

std::int64_t JsonField::as_int() const {
  if (value_->is_number_unsigned()) {
    const auto unsigned_value = value_->get<std::uint64_t>();
    if (unsigned_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail_here("integer {} is too large", unsigned_value);
    }
    return static_cast<std::int64_t>(unsigned_value);
  }
  if (!value_->is_number_integer()) fail_here("must be an integer, got {}", json_kind(*value_));
  return value_->get<std::int64_t>();
}

std::int32_t JsonField::as_token_id() const {
  const std::int64_t id = as_int();
  if (id < 0 || id > std::numeric_limits<std::int32_t>::max()) fail_here("token id {} is out of range", id);
  return static_cast<std::int32_t>(id);
}

std::string JsonField::string_member(std::string_view key) const { return member(key).as_string(); }

std::string JsonField::string_or(std::string_view key, std::string fallback) const {
  const auto field = optional_member(key);
  return field ? field->as_string() : std::move(fallback);
}

bool JsonField::bool_or(std::string_view key, bool fallback) const {
  const auto field = optional_member(key);
  return field ? field->as_bool() : fallback;
}

std::int64_t JsonField::int_or(std::string_view key, std::int64_t fallback) const {
  const auto field = optional_member(key);
  return field ? field->as_int() : fallback;
}

std::string JsonField::type_name() const { return string_member("type"); }

}  // namespace dmascope::tokenizer_detail
