// `dmascope-cli bench` on the CPU backend: the JSON a bench run prints names what ran and holds sane numbers.
// (The CUDA backend's kernel name is tested in tests/gpu/gpu_attention_test.cpp.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "tests/test_paths.h"

namespace dmascope {
namespace {

TEST(CliBench, CpuJsonNamesTheKernelAndHoldsTimesAndDensities) {
  std::string output;
  const std::string command = testing::cli_path().string() +
                              " bench --backend cpu --len 512 --window 64 --heads 2/1 --dim 64 --repeats 2 --warmup 1"
                              " --json";
  ASSERT_EQ(testing::run_command(command, output), 0) << output;
  const auto json = nlohmann::json::parse(output.substr(output.find('{')));
  EXPECT_EQ(json.at("backend"), "cpu");
  EXPECT_EQ(json.at("forward_kernel"), "tiled CPU");
  EXPECT_EQ(json.at("len"), 512);
  EXPECT_EQ(json.at("window"), 64);
  EXPECT_GT(json.at("dma_ms").get<double>(), 0.0);
  EXPECT_GT(json.at("dense_ms").get<double>(), 0.0);
  const double token_density = json.at("token_density"), tile_density = json.at("tile_density");
  EXPECT_GT(token_density, 0.0);
  EXPECT_LT(token_density, 1.0);  // w = 64 of up to 512 keys per row
  EXPECT_GE(tile_density, token_density);
  EXPECT_LE(tile_density, 1.0);
}

TEST(CliBench, KernelOptionNamesTheBadItemAndNeedsTheCudaBackend) {
  std::string output;
  // Parsed before any GPU is looked for, so this runs everywhere.
  EXPECT_NE(testing::run_command(testing::cli_path().string() + " bench --backend cuda --kernel forward=fast",
                                 output), 0);
  EXPECT_NE(output.find("argument --kernel: kernel choice: 'forward=fast' is not a valid value (valid: auto, wgmma, mma)"),
            std::string::npos) << output;
  output.clear();
  EXPECT_NE(testing::run_command(testing::cli_path().string() + " bench --backend cpu --kernel pdl=off", output), 0);
  EXPECT_NE(output.find("--kernel picks CUDA kernels"), std::string::npos) << output;
}

}  // namespace
}  // namespace dmascope
