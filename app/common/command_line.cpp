#include "app/common/command_line.h"

#include <fmt/core.h>

#include <charconv>

#include "core/base/printable.h"

namespace dmascope::command_line {

bool parse_int64(const std::string& text, std::int64_t& value) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  auto [stop, error] = std::from_chars(begin, end, value);
  return !text.empty() && error == std::errc{} && stop == end;
}

CLI::Validator integer_in(std::int64_t min, std::int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        std::int64_t value = 0;
        const std::size_t first_digit = text.rfind('-', 0) == 0 ? 1 : 0;
        const bool digits_only =
            text.size() > first_digit && text.find_first_not_of("0123456789", first_digit) == std::string::npos;
        if (!parse_int64(text, value)) {
          if (digits_only)  // a number, but wider than 64 bits
            return fmt::format("{} is out of range (expected an integer from {} to {})", text, min, max);
          return fmt::format("expected an integer from {} to {}, got '{}'", min, max, text);
        }
        if (value < min || value > max)
          return fmt::format("{} is out of range (expected an integer from {} to {})", text, min, max);
        text = std::to_string(value);
        return {};
      },
      // What --help shows after the option's type.
      fmt::format("{}..{}", min, max));
}

namespace {

// The subcommand the parse reached (deepest), for "dmascope-cli forward: ..." and its --help hint.
const CLI::App* reached_command(const CLI::App& app) {
  const CLI::App* command = &app;
  for (auto subcommands = command->get_subcommands(); !subcommands.empty(); subcommands = command->get_subcommands())
    command = subcommands.front();
  return command;
}

std::string command_path(const CLI::App* command) {
  std::string path = command->get_name();
  for (const CLI::App* parent = command->get_parent(); parent; parent = parent->get_parent())
    path = parent->get_name() + " " + path;
  return path;
}

}  // namespace

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::Success& done) {  // --help, --version
    return app.exit(done);
  } catch (const CLI::ParseError& error) {
    const CLI::App* command = reached_command(app);
    const std::string path = command_path(command);
    // CLI11 checks the required options before it complains about unknown ones; an unknown flag is the likelier
    // cause (a misspelt required one), so it is named first.
    std::string message = error.what();
    if (const auto unexpected = app.remaining(true); !unexpected.empty() && error.get_name() != "ExtrasError") {
      message = "unknown argument";
      for (const auto& argument : unexpected) message += " " + argument;
    }
    fmt::print(stderr, "{}: {}\nRun '{} --help' for the options.\n", path, printable_message(message), path);
    return kExitUsage;
  }
}

}  // namespace dmascope::command_line
