// `dmascope-cli compare`: the JSON is one object per (layer, head, strategy) with the metric fields, the CSV is written
// atomically and never over an existing file without --force, DAM says what it calibrated on, and every malformed
// argument is a usage error (exit 2) that names it, checked before any work starts.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/run_command.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

constexpr int kExitDataError = 1, kExitUsage = 2;

using testing::Finished;
Finished cli(const std::string& arguments) { return testing::run_cli(arguments); }

std::string bundled_model(const char* name) {
  return (testing::source_dir() / "assets" / "models" / name).string();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CliCompare, JsonHoldsOneObjectPerLayerHeadAndStrategyWithTheMetricFields) {
  const Finished run = cli("compare --model " + bundled_model("doge-tiny-random") +
                           " --random 96 --window 24 --dam-capture-length 32 --dam-sequences 2 --json");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // stdout follows DAM's line on stderr in the captured output
  const auto rows = nlohmann::json::parse(run.output.substr(run.output.find("[\n")));
  ASSERT_TRUE(rows.is_array());
  ASSERT_EQ(rows.size(), 2u * 4u * 7u);  // 2 layers × 4 heads × 7 strategies
  std::set<std::string> strategies;
  for (const auto& row : rows) {
    for (const char* field : {"layer", "head", "strategy", "window", "token_density", "tile_density",
                              "mass_recall_mean", "mass_recall_min", "output_rel_error", "mass_recall_by_band"})
      ASSERT_TRUE(row.contains(field)) << field << " missing in " << row.dump();
    strategies.insert(row.at("strategy").get<std::string>());
    EXPECT_EQ(row.at("window"), 24);
    EXPECT_EQ(row.at("length"), 96);
    const double density = row.at("token_density"), recall = row.at("mass_recall_mean");
    EXPECT_GT(density, 0.0);
    EXPECT_LE(density, 1.0);
    EXPECT_GE(recall, row.at("mass_recall_min").get<double>());
    EXPECT_LE(recall, 1.0 + 1e-6);
    EXPECT_GE(row.at("output_rel_error").get<double>(), 0.0);
    EXPECT_TRUE(row.contains("head_label"));  // dam was calibrated: every head is labelled
  }
  EXPECT_EQ(strategies, (std::set<std::string>{"dma", "shared", "swa", "sinks", "oracle", "nsa", "dam"}));
}

TEST(CliCompare, StrategiesAndLayersSelectTheRowsInOrder) {
  const Finished run = cli("compare --model " + bundled_model("doge-toy-mix") +
                           " --task mqar --len 128 --strategies oracle,swa --layers 1 --json");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto rows = nlohmann::json::parse(run.output);
  ASSERT_EQ(rows.size(), 4u * 2u);
  EXPECT_EQ(rows[0].at("strategy"), "oracle");
  EXPECT_EQ(rows[1].at("strategy"), "swa");
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("layer"), 1);
    EXPECT_EQ(row.at("window"), 64);  // the model's keep_window_size
    EXPECT_FALSE(row.contains("head_label"));
  }
  // The oracle keeps the most mass at equal budget.
  for (std::size_t r = 0; r < rows.size(); r += 2)
    EXPECT_GE(rows[r].at("mass_recall_mean").get<double>() + 1e-9, rows[r + 1].at("mass_recall_mean").get<double>());
}

TEST(CliCompare, DamSaysOnStderrWhatItCalibratedOn) {
  const Finished run = cli("compare --model " + bundled_model("doge-toy-mix") +
                           " --task copy --len 128 --strategies dam --dam-calibration random --dam-sequences 3"
                           " --dam-capture-length 64");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "dam: calibrated on 3 random-id sequences")) << run.output;
  EXPECT_TRUE(contains(run.output, "64 tokens")) << run.output;
}

TEST(CliCompare, CsvIsWrittenAndNeverReplacedWithoutForce) {
  const auto dir = testing::scratch_dir();
  const std::string csv = (dir / "lab.csv").string();
  const std::string command = "compare --model " + bundled_model("doge-tiny-random") +
                              " --ids 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20 --strategies dma,swa --csv " +
                              csv;
  const Finished first = cli(command);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  std::ifstream in(csv);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("layer,head,strategy,window,length,token_density,tile_density,mass_recall_mean,", 0), 0u)
      << header;
  EXPECT_TRUE(contains(header, ",gpu_ms,gpu_kernel,")) << header;
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 2u * 4u * 2u);
  {
    std::ofstream mark(csv);
    mark << "mine\n";
  }
  const Finished again = cli(command);
  EXPECT_EQ(again.exit_code, kExitDataError) << again.output;
  EXPECT_TRUE(contains(again.output, "lab.csv")) << again.output;
  std::ifstream kept(csv);
  std::stringstream text;
  text << kept.rdbuf();
  EXPECT_EQ(text.str(), "mine\n");
  EXPECT_EQ(cli(command + " --force").exit_code, 0);
}

TEST(CliCompare, GpuMsIsNullOnTheCpuAndTimingGoesToStderr) {
  const Finished run = cli("compare --model " + bundled_model("doge-tiny-random") +
                           " --random 40 --strategies dma,oracle --timing --json");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "timing: lab ")) << run.output;
  const auto rows = nlohmann::json::parse(run.output.substr(run.output.find("[\n")));
  ASSERT_EQ(rows.size(), 2u * 4u * 2u);
  for (const auto& row : rows) {
    EXPECT_TRUE(row.at("gpu_ms").is_null()) << row.dump();
    EXPECT_TRUE(row.at("gpu_kernel").is_null()) << row.dump();
  }
}

// Without a usable GPU (or without the CUDA kernels) --backend cuda is a data error that says why; with one, every
// row carries its GPU time (tests/gpu/gpu_lab_cli_test.cpp checks the values against the CPU's).
TEST(CliCompare, BackendCudaRunsOnAGpuOrSaysWhyNot) {
  const Finished run = cli("compare --model " + bundled_model("doge-tiny-random") +
                           " --random 40 --strategies swa,nsa --quiet --json --backend cuda");
  if (run.exit_code != 0) {
    EXPECT_EQ(run.exit_code, kExitDataError) << run.output;
    EXPECT_TRUE(contains(run.output, "cuda")) << run.output;
    return;
  }
  const auto rows = nlohmann::json::parse(run.output.substr(run.output.find("[\n")));
  for (const auto& row : rows) {
    EXPECT_TRUE(row.at("gpu_ms").is_number()) << row.dump();
    // swa runs on the DMA kernels (doge-tiny-random's head dim pads to 64), nsa on the gather kernel.
    EXPECT_EQ(row.at("gpu_kernel"), row.at("strategy") == "swa" ? "dma" : "gather") << row.dump();
  }
}

TEST(CliCompare, MalformedArgumentsAreUsageErrorsThatNameThem) {
  const std::string model = " --model " + bundled_model("doge-tiny-random");
  const std::string toy = " --model " + bundled_model("doge-toy-mix");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"compare" + model, "--random"},                                      // no source
      {"compare" + model + " --random 20 --ids 1,2", "--random"},           // two sources
      {"compare" + model + " --random 20 --strategies dma,bogus", "--strategies"},
      {"compare" + model + " --random 20 --strategies dma,dma", "--strategies"},
      {"compare" + model + " --random 20 --layers 2", "--layers"},
      {"compare" + model + " --random 20 --layers 0,x", "--layers"},
      {"compare" + model + " --random 20 --window 0", "--window"},
      {"compare" + model + " --random 20 --json --csv x.csv", "--csv"},
      {"compare" + model + " --task mqar", "--task"},                       // not a toy-vocabulary model
      {"compare" + toy + " --task mqar --len 10", "--len"},
      {"compare" + toy + " --task sort", "--task"},
      {"compare" + model + " --random 20 --dam-calibration bogus", "--dam-calibration"},
      {"compare" + model + " --random 20 --dam-calibration task", "--dam-calibration"},
      {"compare" + model + " --random 20 --strategies swa --dam-sequences 3", "--dam"},
      {"compare" + model + " --random 20 --dam-sequences 0", "--dam-sequences"},
      {"compare" + model + " --random 20 --accuracy-curve", "--task"},
      {"compare" + model + " --task mqar --accuracy-curve", "--task"},       // not a toy-vocabulary model
      {"compare" + toy + " --task mqar --accuracy-windows 8", "--accuracy-curve"},
      {"compare" + toy + " --task mqar --accuracy-curve --accuracy-windows 0,8", "--accuracy-windows"},
      {"compare" + toy + " --task mqar --accuracy-curve --strategies dma,dam", "--strategies"},
      {"compare" + toy + " --task mqar --accuracy-curve --layers 0", "--layers"},
      {"compare" + toy + " --task mqar --accuracy-curve --accuracy-sequences 0", "--accuracy-sequences"},
      {"compare" + model + " --random 20 --backend gpu", "--backend"},
  };
  for (const auto& [arguments, named] : cases) {
    const Finished run = cli(arguments);
    EXPECT_EQ(run.exit_code, kExitUsage) << arguments << "\n" << run.output;
    EXPECT_TRUE(contains(run.output, named)) << arguments << " does not name " << named << ":\n" << run.output;
  }
}

// --accuracy-curve on the bundled doge-toy-mqar (trained with DMA at w = 64): one object per (strategy, window), and
// dma at the model's own w scores what the model as trained scores.
TEST(CliCompare, AccuracyCurveJsonHoldsOnePointPerStrategyAndWindow) {
  const Finished run = cli("compare --model " + bundled_model("doge-toy-mqar") +
                           " --task mqar --len 128 --accuracy-curve --accuracy-windows 16,64 --accuracy-sequences 2 "
                           "--json --quiet");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto points = nlohmann::json::parse(run.output);
  ASSERT_EQ(points.size(), 3u * 2u);  // dma, swa, oracle × 16, 64
  std::set<std::string> strategies;
  for (const auto& point : points) {
    for (const char* field : {"task", "length", "sequences", "strategy", "window", "correct", "answers", "accuracy",
                              "model_window", "model_correct", "model_accuracy"})
      ASSERT_TRUE(point.contains(field)) << field << " missing in " << point.dump();
    strategies.insert(point.at("strategy").get<std::string>());
    EXPECT_EQ(point.at("task"), "mqar");
    EXPECT_EQ(point.at("length"), 128);
    EXPECT_EQ(point.at("model_window"), 64);
    const double accuracy = point.at("accuracy");
    EXPECT_NEAR(accuracy, point.at("correct").get<double>() / point.at("answers").get<double>(), 1e-12);
    if (point.at("strategy") == "dma" && point.at("window") == 64) {
      EXPECT_EQ(point.at("correct"), point.at("model_correct"));
    }
  }
  EXPECT_EQ(strategies, (std::set<std::string>{"dma", "swa", "oracle"}));
}

TEST(CliCompare, HelpNamesEveryFlag) {
  const Finished run = cli("compare --help");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  for (const char* flag : {"--model", "--ids", "--text", "--random", "--task", "--len", "--seed", "--window",
                           "--strategies", "--layers", "--json", "--csv", "--force", "--dense-without-bias", "--tile",
                           "--dam-calibration", "--dam-sequences", "--dam-capture-length", "--dam-seed", "--threads",
                           "--quiet", "--accuracy-curve", "--accuracy-windows", "--accuracy-sequences", "--backend",
                           "--timing"})
    EXPECT_TRUE(contains(run.output, flag)) << flag;
  EXPECT_TRUE(contains(cli("--help").output, "compare"));
}

}  // namespace
}  // namespace dmascope
