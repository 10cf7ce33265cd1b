// The kind of a JSON value as error messages say it ("a string", "an object", "null"): shared by every strict JSON
// reader in core (config.json, tokenizer.json) so that they word the same mistake the same way.
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace dmascope {

std::string_view json_kind(const nlohmann::json& value);

// `value` as an integer in [min, max], or an Error that says `where` (the file and the key), the value and the range.
// nlohmann's get<int>() wraps silently (4294967297 becomes 1) and converts floats (2.5e10 becomes INT_MIN); this does
// neither: a float, even 3.0, is not an integer here.
std::int64_t json_integer_in(const nlohmann::json& value, std::int64_t min, std::int64_t max, std::string_view where);
std::uint64_t json_unsigned(const nlohmann::json& value, std::string_view where);

}  // namespace dmascope
