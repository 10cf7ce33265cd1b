// `dmascope-cli tokenize DIR TEXT`: a text through the model's tokenizer.
#include <fmt/core.h>

#include <filesystem>
#include <memory>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "core/base/error.h"
#include "core/tokenizer/tokenizer.h"

namespace dmascope::cli {

namespace {

struct TokenizeArguments {
  std::string model_dir, text;
  bool special = false, ids_only = false;
};

int run_tokenize(const TokenizeArguments& args) {
  std::filesystem::path path = args.model_dir;
  if (std::filesystem::is_directory(path)) path /= "tokenizer.json";
  const Tokenizer tokenizer = Tokenizer::load(path);
  const auto ids = tokenizer.encode(args.text, args.special);
  std::string joined;
  for (auto id : ids) joined += (joined.empty() ? "" : ",") + std::to_string(id);
  fmt::print("{}\n", joined);
  if (!args.ids_only)
    for (std::size_t p = 0; p < ids.size(); ++p) fmt::print("{:6} {:8} {}\n", p, ids[p], tokenizer.token_display(ids[p]));
  return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& cli) {
  auto args = std::make_shared<TokenizeArguments>();
  CLI::App* command =
      cli.add_subcommand("tokenize", "token ids and their display strings, with the model's tokenizer.json");
  command->add_option("DIR", args->model_dir, "the model folder (its tokenizer.json) or a tokenizer.json")->required();
  command->add_option("TEXT", args->text, "the text to encode (put -- before a text that starts with '-')")
      ->required();
  command->add_flag("--special", args->special, "add the tokenizer's special tokens (BOS) as the model sees them");
  command->add_flag("--ids-only", args->ids_only, "print only the comma-separated ids, not one line per token");
  return {command, [args] { return run_tokenize(*args); }};
}

}  // namespace dmascope::cli
