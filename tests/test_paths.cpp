#include "tests/test_paths.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace dmascope::testing {

// Built-in absolute paths, overridable so that a test binary built here can run from a copy of the tree elsewhere
// (a GPU machine).
std::filesystem::path source_dir() {
  const char* override_dir = std::getenv("DMASCOPE_SOURCE_DIR");
  return override_dir ? override_dir : DMASCOPE_SOURCE_DIR;
}
std::filesystem::path fixtures_dir() {
  const char* override_dir = std::getenv("DMASCOPE_FIXTURES_DIR");
  return override_dir ? override_dir : DMASCOPE_FIXTURES_DIR;
}
std::filesystem::path cli_path() {
  const char* override_path = std::getenv("DMASCOPE_CLI_PATH");
  return override_path ? override_path : DMASCOPE_CLI_PATH;
}

Finished run_cli(const std::string& arguments) {
  Finished run;
  run.exit_code = run_command(cli_path().string() + " " + arguments, run.output);
  return run;
}

std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "dmascope-tests" /
                              (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace dmascope::testing
