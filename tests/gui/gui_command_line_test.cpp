// The app's command line, without a display: --help and --version exit 0 before any window is opened, and a usage
// error exits 2 naming the argument (the rule dmascope-cli follows too).
#include <gtest/gtest.h>

#include <string>

#include "tests/run_command.h"

namespace {

using dmascope::testing::run_command;

constexpr int kExitUsage = 2;

struct Finished {
  int exit_code;
  std::string output;
};

// No DISPLAY and no WAYLAND_DISPLAY: anything that tried to open a window would fail with "no display" (exit 3).
Finished app(const std::string& arguments) {
  Finished run;
  const std::string command = std::string("env -u DISPLAY -u WAYLAND_DISPLAY '") + DMASCOPE_GUI_PATH + "' " + arguments;
  run.exit_code = run_command(command, run.output);
  return run;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(GuiCommandLine, HelpExitsZeroWithoutADisplayAndNamesEveryFlag) {
  const Finished run = app("--help");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (const char* flag : {"--session", "--model", "--present", "--step", "--about", "--screenshot", "--size",
                           "--ui-scale", "--save-session", "--layout-json", "--keys", "--measure", "--headless",
                           "--version"})
    EXPECT_TRUE(contains(run.output, flag)) << "--help lacks " << flag << "\n" << run.output;
}

TEST(GuiCommandLine, VersionPrintsTheProjectVersionWithoutADisplay) {
  const Finished run = app("--version");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output, std::string("dmascope ") + DMASCOPE_VERSION + "\n");
}

TEST(GuiCommandLine, UsageErrorsExitTwoNamingTheArgument) {
  struct Case {
    const char* arguments;
    const char* named;
  };
  for (const Case& c : {Case{"--bogus", "--bogus"}, Case{"--size 10x10", "--size"},
                        Case{"--size 800x600junk", "--size"}, Case{"--ui-scale 9", "--ui-scale"}, Case{"--step 2", "--step"},
                        Case{"--present --step 0", "--step"}, Case{"--present --step 2147483648", "2147483648"},
                        Case{"--keys right", "--keys"}, Case{"--screenshot x.png --keys nosuchkey", "nosuchkey"},
                        Case{"--headless", "--headless"}, Case{"--session", "--session"}}) {
    const Finished run = app(c.arguments);
    EXPECT_EQ(run.exit_code, kExitUsage) << c.arguments << "\n" << run.output;
    EXPECT_TRUE(contains(run.output, c.named)) << c.arguments << "\n" << run.output;
  }
}

}  // namespace
