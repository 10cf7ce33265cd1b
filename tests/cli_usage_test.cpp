// dmascope-cli's command line, run as a user would: every subcommand's --help, --version, and the exit-code rule —
// 0 done, 1 a data error naming the file, 2 a usage error naming the argument — including the integers and junk a
// hostile user types (no wrapped values, no raw std::bad_alloc, no abort).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/test_paths.h"

namespace dmascope {
namespace {

constexpr int kExitDataError = 1, kExitUsage = 2;

using testing::Finished;
Finished cli(const std::string& arguments) { return testing::run_cli(arguments); }

std::string fixture_model(const char* name) { return (testing::fixtures_dir() / "models" / name).string(); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CliUsage, EverySubcommandsHelpExitsZeroAndNamesEachOfItsFlags) {
  const std::map<std::string, std::vector<std::string>> flags = {
      {"info", {"DIR"}},
      {"tokenize", {"DIR", "TEXT", "--special", "--ids-only"}},
      {"dump", {"--model", "--ids", "--text", "--out", "--window", "--mask-variant", "--bias-formula", "--force",
                "--quiet"}},
      {"forward", {"--model", "--ids", "--text", "--random", "--seed", "--window", "--tile", "--mask-variant",
                   "--threads", "--repeat", "--map", "--map-layer", "--map-head", "--backend", "--precision",
                   "--tile-maps", "--check", "--quiet"}},
      {"bench", {"--backend", "--len", "--window", "--heads", "--dim", "--batch", "--bias", "--bias-model",
                 "--precision", "--repeats", "--warmup", "--seed", "--json", "--matrix", "--max-len", "--quiet", "--save-output", "--save-rows", "--force"}},
      {"make-model", {"--out", "--preset", "--dtype", "--seed", "--window", "--force"}}};
  for (const auto& [command, names] : flags) {
    const Finished run = cli(command + " --help");
    EXPECT_EQ(run.exit_code, 0) << command << "\n" << run.output;
    for (const auto& name : names) EXPECT_TRUE(contains(run.output, name)) << command << " --help lacks " << name;
  }
  const Finished overview = cli("--help");
  EXPECT_EQ(overview.exit_code, 0) << overview.output;
  for (const auto& [command, names] : flags) EXPECT_TRUE(contains(overview.output, command)) << overview.output;
}

TEST(CliUsage, VersionPrintsTheProjectVersion) {
  const Finished run = cli("--version");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output, std::string("dmascope-cli ") + DMASCOPE_VERSION + "\n");
}

TEST(CliUsage, NoCommandIsAUsageErrorThatShowsTheCommands) {
  const Finished run = cli("");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "forward")) << run.output;
}

TEST(CliUsage, UnknownFlagMissingValueAndBadIntegerExitTwoNamingTheArgument) {
  const std::string model = fixture_model("gqa_f32");
  struct Case {
    std::string arguments, named;
  };
  for (const Case& c : {Case{"forward --model " + model + " --random 8 --bogus", "--bogus"},
                        Case{"forward --bogus", "--bogus"},  // named even when a required flag is missing too
                        Case{"frobnicate", "frobnicate"}, Case{"forward --model", "--model"},
                        Case{"forward --random 8", "--model"}, Case{"bench --len abc", "--len"},
                        Case{"bench --len 12.5", "--len"}, Case{"bench --backend gpu", "--backend"},
                        Case{"forward --model " + model + " --ids 1,x,3", "--ids"}, Case{"info", "DIR"},
                        Case{"dump --model " + model + " --ids 1 --text hi --out x", "--text"},
                        Case{"forward --model " + model + " --ids 1 --random 4", "--random"},
                        // bf16 is the GPU's: on the CPU (the default backend) it is a usage error, as is fp16
                        Case{"forward --model " + model + " --random 8 --precision bf16", "--precision"},
                        Case{"forward --model " + model + " --random 8 --precision fp16", "--precision"}}) {
    const Finished run = cli(c.arguments);
    EXPECT_EQ(run.exit_code, kExitUsage) << c.arguments << "\n" << run.output;
    EXPECT_TRUE(contains(run.output, c.named)) << c.arguments << "\n" << run.output;
  }
}

// The check compares a GPU run with the CPU's reference: on the CPU it has nothing to compare, and says so before
// any forward runs.
TEST(CliUsage, ForwardCheckWithoutTheCudaBackendIsAUsageError) {
  for (const std::string backend : {"", " --backend cpu"}) {
    const Finished run = cli("forward --model " + fixture_model("gqa_f32") + " --random 20 --check" + backend);
    EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
    EXPECT_TRUE(contains(run.output, "--check")) << run.output;
    EXPECT_TRUE(contains(run.output, "--backend cuda")) << run.output;
    EXPECT_FALSE(contains(run.output, "tokens, window")) << "a forward ran: " << run.output;
  }
}

TEST(CliUsage, IntegersAreReportedAsTypedNotWrapped) {
  const std::string model = fixture_model("gqa_f32");
  Finished run = cli("forward --model " + model + " --random 8 --map --map-layer -1");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "--map-layer: -1 is out of range")) << run.output;
  EXPECT_FALSE(contains(run.output, "18446744073709551615")) << run.output;

  run = cli("bench --repeats 2147483648");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "--repeats: 2147483648 is out of range")) << run.output;

  run = cli("bench --len 99999999999999999999999");  // wider than 64 bits: still quoted, not clamped
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "--len: 99999999999999999999999 is out of range")) << run.output;
}

TEST(CliUsage, JunkAfterANumberIsRejected) {
  Finished run = cli("bench --heads 2/1junk");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "--heads")) << run.output;
  EXPECT_TRUE(contains(run.output, "'2/1junk'")) << run.output;
  run = cli("bench --heads 2/x1");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  run = cli("bench --window 64junk");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "'64junk'")) << run.output;
}

TEST(CliUsage, LeadingZerosAreDecimalNotOctal) {
  const Finished run = cli("bench --backend cpu --len 010 --window 4 --repeats 1 --warmup 0 --json");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(nlohmann::json::parse(run.output.substr(run.output.find('{'))).at("len"), 10);
}

TEST(CliUsage, HugeBenchShapesAreRefusedWithTheReasonBeforeAllocating) {
  Finished run = cli("bench --len 1099511627776");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "--len: 1099511627776 is out of range")) << run.output;
  run = cli("bench --dim -1");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "--dim: -1 is out of range")) << run.output;
  // Every value in range, but together far more than any machine's memory.
  run = cli("bench --backend cpu --len 16777216 --heads 1024/1024 --dim 1024 --batch 1024");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "GB of memory")) << run.output;
  EXPECT_FALSE(contains(run.output, "bad_alloc")) << run.output;
}

TEST(CliUsage, ThreadCountsOutOfRangeAreAUsageError) {
  const Finished run = cli("forward --model " + fixture_model("gqa_f32") + " --random 8 --threads 100000");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "--threads: 100000 is out of range")) << run.output;
}

// With address space for only a few thread stacks, most of the 1024 workers cannot start: the forward still runs on
// those that did (before, the failed start left joinable threads behind and the process aborted).
TEST(CliUsage, AForwardWhoseThreadsCannotAllStartStillFinishes) {
  std::string output;
  const std::string command = "ulimit -v 1000000 && MALLOC_ARENA_MAX=2 " + testing::cli_path().string() +
                              " forward --model " + fixture_model("gqa_f32") + " --random 256 --threads 1024";
  const int exit_code = testing::run_command("bash -c '" + command + "'", output);
  EXPECT_EQ(exit_code, 0) << output;
  EXPECT_TRUE(contains(output, "1024 threads")) << output;
}

// The model has one bias head: --map-head 2 is refused after loading it and before the forward (which would print
// its summary first).
TEST(CliUsage, MapHeadTheModelLacksFailsBeforeTheForward) {
  const std::string model = fixture_model("moe_sharded_f32");
  Finished run = cli("forward --model " + model + " --random 4096 --map --map-head 2");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "--map-head: 2 is not a bias head")) << run.output;
  EXPECT_TRUE(contains(run.output, "moe_sharded_f32")) << run.output;
  EXPECT_FALSE(contains(run.output, "tokens, window")) << "the forward ran first:\n" << run.output;
  run = cli("forward --model " + model + " --random 64 --map --map-layer 2");
  EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
  EXPECT_TRUE(contains(run.output, "--map-layer: 2 is not a layer")) << run.output;
}

TEST(CliUsage, DataErrorsExitOneNamingTheFile) {
  const auto dir = testing::scratch_dir();
  Finished run = cli("info " + (dir / "absent").string());
  EXPECT_EQ(run.exit_code, kExitDataError) << run.output;
  EXPECT_TRUE(contains(run.output, (dir / "absent").string())) << run.output;

  std::filesystem::create_directories(dir / "broken");
  std::ofstream(dir / "broken" / "config.json") << "{ not json";
  run = cli("forward --model " + (dir / "broken").string() + " --random 8");
  EXPECT_EQ(run.exit_code, kExitDataError) << run.output;
  EXPECT_TRUE(contains(run.output, "config.json")) << run.output;
}

// Progress goes to stderr only when it is a terminal (here a pseudo-terminal from script(1)); --quiet silences it.
TEST(CliUsage, ForwardShowsProgressOnATerminalUnlessQuiet) {
  std::string output;
  if (testing::run_command("command -v script", output) != 0) GTEST_SKIP() << "script (bsdutils) is needed for a pty";
  const std::string forward =
      testing::cli_path().string() + " forward --model " + fixture_model("gqa_f32") + " --random 64";
  ASSERT_EQ(testing::run_command("script -qec '" + forward + "' /dev/null", output), 0) << output;
  EXPECT_TRUE(contains(output, "forward: run 1/1, layer 1/2")) << output;
  ASSERT_EQ(testing::run_command("script -qec '" + forward + " --quiet' /dev/null", output), 0) << output;
  EXPECT_FALSE(contains(output, "layer 1/2")) << output;
  ASSERT_EQ(testing::run_command(forward, output), 0) << output;  // a pipe: no progress
  EXPECT_FALSE(contains(output, "layer 1/2")) << output;
}

TEST(CliUsage, BenchMatrixShowsProgressOnATerminal) {
  std::string output;
  if (testing::run_command("command -v script", output) != 0) GTEST_SKIP() << "script (bsdutils) is needed for a pty";
  // The matrix's smallest rows (L = 4096) still take minutes on a small CPU: the first row's line is enough.
  const std::string bench = "timeout 5 " + testing::cli_path().string() +
                            " bench --backend cpu --matrix --max-len 4096 --bias random --repeats 1 --warmup 0";
  testing::run_command("script -qec '" + bench + "' /dev/null", output);
  EXPECT_TRUE(contains(output, "bench: row 1/12: L 4096, w 256, heads 2/1, d 64")) << output;
}

}  // namespace
}  // namespace dmascope
