// dmascope-cli: the command-line front end over core/ (no GUI dependency). Exit codes: 0 done (and --help,
// --version), 1 a data error (a bad model file, tensor or tokenizer: the message names the file and field), 2 a
// usage error (an unknown flag, a missing or malformed value, a value out of range: the message names the argument).
#include <fmt/core.h>

#include <exception>
#include <vector>

#include "app/cli/commands.h"
#include "app/common/command_line.h"
#include "core/base/error.h"
#include "core/base/printable.h"

namespace {

constexpr const char* kFooter = R"(
Run 'dmascope-cli COMMAND --help' for a command's options. Exit codes: 0 done, 1 bad data (the message names the
file and field), 2 bad usage (the message names the argument).)";

}  // namespace

int main(int argc, char** argv) {
  namespace command_line = dmascope::command_line;
  CLI::App cli("dmascope-cli: Dynamic Mask Attention on Doge models from the command line", "dmascope-cli");
  cli.set_version_flag("--version", "dmascope-cli " DMASCOPE_VERSION);
  cli.require_subcommand(1);
  cli.footer(kFooter);
  const std::vector<dmascope::cli::Command> commands = {
      dmascope::cli::add_info_command(cli),    dmascope::cli::add_tokenize_command(cli),
      dmascope::cli::add_dump_command(cli),    dmascope::cli::add_forward_command(cli),
      dmascope::cli::add_bench_command(cli),   dmascope::cli::add_make_model_command(cli),
      dmascope::cli::add_compare_command(cli)};
  if (argc <= 1) {  // no command at all: the overview, as a usage error
    fmt::print(stderr, "{}", cli.help());
    return command_line::kExitUsage;
  }
  if (auto exit_code = command_line::parse_command_line(cli, argc, argv)) return *exit_code;
  for (const auto& command : commands) {
    if (!command.subcommand->parsed()) continue;
    const std::string name = command.subcommand->get_name();
    try {
      return command.run();
    } catch (const command_line::UsageError& error) {
      fmt::print(stderr, "dmascope-cli {}: {}\nRun 'dmascope-cli {} --help' for the options.\n", name,
                 dmascope::printable_message(error.what()), name);
      return command_line::kExitUsage;
    } catch (const dmascope::Error& error) {
      fmt::print(stderr, "dmascope-cli {}: error: {}\n", name, dmascope::printable_message(error.what()));
      return command_line::kExitDataError;
    } catch (const std::exception& error) {
      fmt::print(stderr, "dmascope-cli {}: unexpected error: {}\n", name, dmascope::printable_message(error.what()));
      return command_line::kExitDataError;
    }
  }
  return command_line::kExitUsage;  // unreachable: require_subcommand(1) made the parse fail without one
}
