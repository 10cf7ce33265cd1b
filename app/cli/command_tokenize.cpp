#include <fmt/core.h>

#include <filesystem>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "core/base/error.h"
#include "core/tokenizer/tokenizer.h"

namespace dmascope::cli {

int command_tokenize(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {"--special", "--ids-only"});
  if (args.positional().size() != 2)
    fail("tokenize takes a model directory (or tokenizer.json) and a text, got {} arguments", args.positional().size());
  std::filesystem::path path = args.positional()[0];
  if (std::filesystem::is_directory(path)) path /= "tokenizer.json";
  const Tokenizer tokenizer = Tokenizer::load(path);
  const auto ids = tokenizer.encode(args.positional()[1], args.flag("--special"));
  std::string joined;
  for (auto id : ids) joined += (joined.empty() ? "" : ",") + std::to_string(id);
  fmt::print("{}\n", joined);
  if (!args.flag("--ids-only"))
    for (std::size_t p = 0; p < ids.size(); ++p) fmt::print("{:6} {:8} {}\n", p, ids[p], tokenizer.token_display(ids[p]));
  return 0;
}

}  // namespace dmascope::cli
