#include "app/cli/cli_args.h"

#include <charconv>

#include "core/base/error.h"

namespace dmascope::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
           const std::set<std::string>& flag_options) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg, inline_value;
    bool has_inline = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
      has_inline = true;
    }
    if (flag_options.count(name)) {
      if (has_inline) fail("argument {} takes no value", name);
      flags_.insert(name);
    } else if (value_options.count(name)) {
      if (values_.count(name)) fail("argument {} is given twice", name);
      if (has_inline) {
        values_[name] = inline_value;
      } else {
        if (i + 1 >= argv.size()) fail("argument {} needs a value", name);
        values_[name] = argv[++i];
      }
    } else {
      fail("unknown argument {}", name);
    }
  }
}

std::optional<std::string> Args::value(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::nullopt : std::optional(it->second);
}

std::string Args::required(const std::string& name) const {
  auto found = value(name);
  if (!found) fail("argument {} is required", name);
  return *found;
}

std::int64_t Args::integer(const std::string& name, std::int64_t fallback) const {
  auto text = value(name);
  if (!text) return fallback;
  std::int64_t parsed = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), parsed);
  if (error != std::errc{} || end != text->data() + text->size())
    fail("argument {} must be an integer, got '{}'", name, *text);
  return parsed;
}

std::vector<std::int32_t> parse_id_list(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    std::int32_t id = 0;
    auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || error != std::errc{} || end != item.data() + item.size() || id < 0)
      fail("argument --ids: '{}' is not a non-negative integer (expected a list like 1,2,3)", item);
    ids.push_back(id);
    start = comma + 1;
  }
  return ids;
}

}  // namespace dmascope::cli
