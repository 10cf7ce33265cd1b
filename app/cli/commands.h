// The subcommands of dmascope-cli. Each add_*_command declares its subcommand on the top-level parser (every flag
// with a one-line description and its checks) and returns how to run it once the parse has succeeded; running
// returns the process exit code and throws dmascope::Error for bad data (exit 1) or command_line::UsageError for a
// usage error CLI11 cannot see by itself (exit 2).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace dmascope::cli {

struct Command {
  const CLI::App* subcommand = nullptr;  // parsed() says whether this one was asked for
  std::function<int()> run;
};

Command add_info_command(CLI::App& cli);
Command add_tokenize_command(CLI::App& cli);
Command add_dump_command(CLI::App& cli);
Command add_forward_command(CLI::App& cli);
Command add_make_model_command(CLI::App& cli);
Command add_bench_command(CLI::App& cli);
Command add_compare_command(CLI::App& cli);

}  // namespace dmascope::cli
