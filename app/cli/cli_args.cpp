#include "app/cli/cli_args.h"

#include <charconv>

namespace dmascope::cli {

namespace {

// The message for the first item of `text` that is not an id, or empty.
std::string id_list_problem(const std::string& text, std::vector<std::int32_t>* ids) {
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    std::int32_t id = 0;
    auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || error != std::errc{} || end != item.data() + item.size() || id < 0)
      return fmt::format("'{}' is not a token id (a non-negative 32-bit integer; expected a list like 1,2,3)", item);
    if (ids) ids->push_back(id);
    start = comma + 1;
  }
  return {};
}

}  // namespace

std::vector<std::int32_t> parse_id_list(const std::string& text) {
  std::vector<std::int32_t> ids;
  if (const std::string problem = id_list_problem(text, &ids); !problem.empty()) usage_fail("--ids: {}", problem);
  return ids;
}

CLI::Validator id_list_check() {
  return CLI::Validator([](std::string& text) { return id_list_problem(text, nullptr); }, "ID,ID,...");
}

}  // namespace dmascope::cli
