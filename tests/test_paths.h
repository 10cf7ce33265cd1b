// Where the tests find their fixtures and the CLI binary, and a scratch directory per test.
#pragma once

#include <filesystem>
#include <string>

namespace dmascope::testing {

std::filesystem::path fixtures_dir();      // tests/fixtures/data
std::filesystem::path cli_path();          // the built dmascope-cli
std::filesystem::path scratch_dir();       // a fresh empty directory for the running test

// Runs a command line through the shell; returns its exit code and puts stdout+stderr into `output`.
int run_command(const std::string& command, std::string& output);

}  // namespace dmascope::testing
