// The kind of a JSON value as error messages say it ("a string", "an object", "null"): shared by every strict JSON
// reader in core (config.json, tokenizer.json) so that they word the same mistake the same way.
#pragma once

#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace dmascope {

std::string_view json_kind(const nlohmann::json& value);

}  // namespace dmascope
