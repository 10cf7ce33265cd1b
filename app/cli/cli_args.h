// Bounds and value parsers shared by dmascope-cli's subcommands (the options themselves are declared, with their
// help lines, next to each subcommand in app/cli/command_*.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/common/command_line.h"

namespace dmascope::cli {

using command_line::integer_in;
using command_line::usage_fail;

// Token counts (--random, --len, --window, --max-len): 16M tokens is far past what a CPU forward or a bench shape
// finishes in reasonable time, and keeps every size product (batch · heads · L · d) inside 64 bits.
inline constexpr std::int64_t kMaxTokens = std::int64_t{1} << 24;
// --threads: more workers than this only adds thread start-up; far fewer than the OS's thread limit.
inline constexpr std::int64_t kMaxThreads = 1024;
// --repeat, --repeats, --warmup.
inline constexpr std::int64_t kMaxRepeats = 1000000;
// --seed: the generators take 64-bit seeds, stored signed on the command line.
inline constexpr std::int64_t kMaxSeed = INT64_MAX;

// "1,2,3" → ids; a usage error naming --ids for anything else.
std::vector<std::int32_t> parse_id_list(const std::string& text);
// The CLI11 check of --ids (the same rule, reported at parse time).
CLI::Validator id_list_check();

// --quiet on the subcommands that report progress: one meaning everywhere (see ProgressLine), plus forward's table.
inline constexpr const char* kQuietHelp = "no progress line on stderr (shown only when stderr is a terminal)";

}  // namespace dmascope::cli
