// Running a command line from a test (the CLI and the desktop app as separate processes).
#pragma once

#include <string>

namespace dmascope::testing {

// Runs a command line through the shell; returns its exit code (-1 if it did not exit normally) and puts its stdout
// and stderr into `output`.
int run_command(const std::string& command, std::string& output);

}  // namespace dmascope::testing
