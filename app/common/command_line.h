// What both programs (dmascope-cli and the dmascope app) share about their command lines, which CLI11 parses: strict
// 64-bit integer options with ranges, and one exit-code rule — --help and --version exit 0, a usage error exits 2
// with a message that names the argument, a data error (a bad file or tensor, dmascope::Error) exits 1.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "core/base/error.h"

namespace dmascope::command_line {

inline constexpr int kExitDataError = 1;
inline constexpr int kExitUsage = 2;

// A usage error found after CLI11's parse: a combination of arguments, or a value the loaded model rules out (a
// --map-head the model does not have). Front ends catch it before dmascope::Error and exit with kExitUsage.
class UsageError : public Error {
 public:
  using Error::Error;
};

template <class... Args>
[[noreturn]] void usage_fail(fmt::format_string<Args...> format, Args&&... args) {
  throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

// Strict decimal (no sign but '-', no spaces, no hex or octal, nothing after the digits) into 64 bits; false when
// the text is not such a number or does not fit.
bool parse_int64(const std::string& text, std::int64_t& value);

// A CLI11 transform for an integer option: the text must be a decimal integer in [min, max]; the error quotes the
// value as typed (no wrap-around: "-1" stays -1, "2147483648" stays 2147483648). It also rewrites the text to plain
// decimal, so that CLI11's own conversion (which would read "010" as octal) sees what the check saw — hence
// Option::transform, not Option::check (which runs a validator on a copy and drops the rewrite).
CLI::Validator integer_in(std::int64_t min, std::int64_t max);

// Parses argv into `app`. Returns the exit code to leave with when the program should stop here (--help and
// --version print on stdout and give 0; a usage error prints "<program>: <message>" and where to find the options on
// stderr and gives kExitUsage), or nullopt when the program should go on and run.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

}  // namespace dmascope::command_line
