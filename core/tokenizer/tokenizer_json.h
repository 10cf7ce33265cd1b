// Typed reads from tokenizer.json. A JsonField is a value together with where it sits ("model.merges[3]") and which
// file it came from, so that every error can say both without each caller spelling them out.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/base/error.h"
#include "core/formats/json_kind.h"

namespace dmascope::tokenizer_detail {

class JsonField {
 public:
  JsonField(const nlohmann::json& value, std::string_view source, std::string path)
      : value_(&value), source_(source), path_(std::move(path)) {}

  const nlohmann::json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  std::string_view source() const { return source_; }
  bool is_null() const { return value_->is_null(); }

  // Components nest through "Sequence"; parsing them recurses, so a hostile file could nest deep enough to overflow the
  // stack. Real files nest one or two levels.
  void require_shallow_nesting() const;

  // "file: field 'path'" for error messages.
  std::string where() const;

  template <class... Args>
  [[noreturn]] void fail_here(fmt::format_string<Args...> format, Args&&... args) const {
    fail("{}: field '{}': {}", source_, path_, fmt::format(format, std::forward<Args>(args)...));
  }

  // Members of an object; `member` fails when the key is absent, `optional_member` gives nullopt when it is absent
  // or null. Both fail when this value is not an object.
  JsonField member(std::string_view key) const;
  std::optional<JsonField> optional_member(std::string_view key) const;
  JsonField element(std::size_t index) const;  // of an array

  void require_object() const;
  void require_array() const;

  std::string as_string() const;
  bool as_bool() const;
  std::int64_t as_int() const;
  std::int32_t as_token_id() const;  // 0 <= id <= INT32_MAX

  std::string string_member(std::string_view key) const;
  std::string string_or(std::string_view key, std::string fallback) const;
  bool bool_or(std::string_view key, bool fallback) const;
  std::int64_t int_or(std::string_view key, std::int64_t fallback) const;
  std::string type_name() const;  // the "type" member every component carries

 private:
  JsonField nested(const nlohmann::json& value, std::string path) const;

  const nlohmann::json* value_;
  std::string_view source_;
  std::string path_;
  std::size_t depth_ = 0;  // members and elements between the top level and this value
};

using dmascope::json_kind;  // core/formats/json_kind.h: "a string", "an object", ... for messages

}  // namespace dmascope::tokenizer_detail
