// Where the tests find their fixtures and the CLI binary, and a scratch directory per test.
#pragma once

#include <filesystem>
#include <string>

#include "tests/run_command.h"  // run_command, used with cli_path()

namespace dmascope::testing {

std::filesystem::path source_dir();        // the source tree (its assets/ hold the bundled models)
std::filesystem::path fixtures_dir();      // tests/fixtures/data
std::filesystem::path cli_path();          // the built dmascope-cli
std::filesystem::path scratch_dir();       // a fresh empty directory for the running test

// The CLI run as a separate process: its exit code and what it wrote to stdout and stderr together.
struct Finished {
  int exit_code;
  std::string output;
};
Finished run_cli(const std::string& arguments);  // `dmascope-cli ARGUMENTS` through the shell

}  // namespace dmascope::testing
