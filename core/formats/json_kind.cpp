#include "core/formats/json_kind.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace dmascope {

std::string_view json_kind(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

namespace {

// A short, printable rendering of an offending value (it may be a long string from a hostile file).
std::string shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

}  // namespace

std::int64_t json_integer_in(const nlohmann::json& value, std::int64_t min, std::int64_t max, std::string_view where) {
  if (value.is_number_unsigned()) {
    const std::uint64_t number = value.get<std::uint64_t>();
    if (max >= 0 && number <= static_cast<std::uint64_t>(max)) return static_cast<std::int64_t>(number);
  } else if (value.is_number_integer()) {
    const std::int64_t number = value.get<std::int64_t>();
    if (number >= min && number <= max) return number;
  } else {
    fail("{}: expected an integer, got {} {}", where, json_kind(value), shown(value));
  }
  fail("{}: {} is outside [{}, {}]", where, shown(value), min, max);
}

std::uint64_t json_unsigned(const nlohmann::json& value, std::string_view where) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer()) fail("{}: {} is negative, expected an integer ≥ 0", where, shown(value));
  fail("{}: expected an integer ≥ 0, got {} {}", where, json_kind(value), shown(value));
}

}  // namespace dmascope
