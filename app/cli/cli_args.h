// A small command-line parser for dmascope-cli: `--name value` options and positional arguments, with errors that
// name the offending argument.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dmascope::cli {

class Args {
 public:
  // `value_options` take a value; `flag_options` do not. Anything else starting with "--" is an error.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
       const std::set<std::string>& flag_options);

  const std::vector<std::string>& positional() const { return positional_; }
  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  std::optional<std::string> value(const std::string& name) const;
  std::string required(const std::string& name) const;
  std::int64_t integer(const std::string& name, std::int64_t fallback) const;  // validated

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
};

std::vector<std::int32_t> parse_id_list(const std::string& text);  // "1,2,3" (errors name --ids)

}  // namespace dmascope::cli
