// `dmascope-cli bench` on the CPU backend: the JSON a bench run prints names what ran and holds sane numbers, and it
// is the engine's timing service's answer (engine/timing/bench_run.h), not a second measurement of its own.
// (The CUDA backend's kernel name is tested in tests/gpu/gpu_attention_test.cpp, its DMA time against the service's in
// tests/gpu/timing_service_bench_gpu_test.cpp.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <set>
#include <string>

#include "engine/timing/bench_run.h"
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

// The CLI's row and the engine's timing service, called in this process on the same seeded shape, agree on every field
// that is not a time (the inputs, the mask and its densities, what ran), and have the same fields: one code path.
TEST(CliBench, CpuBenchAndTheEngineTimingServiceReportTheSameFieldsForASeededShape) {
  std::string output;
  const std::string command = testing::cli_path().string() +
                              " bench --backend cpu --len 384 --window 48 --heads 4/2 --dim 64 --batch 2"
                              " --bias clustered --seed 7 --repeats 2 --warmup 1 --json";
  ASSERT_EQ(testing::run_command(command, output), 0) << output;
  const auto cli = nlohmann::json::parse(output.substr(output.find('{')));

  engine::BenchSetting setting;
  setting.backend = Backend::Cpu;
  setting.length = 384;
  setting.window = 48;
  setting.q_heads = 4;
  setting.kv_heads = 2;
  setting.batch = 2;
  setting.bias = "clustered";
  setting.seed = 7;
  setting.repeats = 2;
  setting.warmup = 1;
  // The service itself, with the bench's inputs and options (what run_bench calls).
  const std::atomic<bool> cancel{false};
  const LayerTiming timing = engine::time_attention(engine::bench_inputs(setting),
                                                    engine::bench_timing_options(setting), cancel);
  const auto service = engine::bench_json(setting, timing);

  std::set<std::string> cli_keys, service_keys;
  for (const auto& [key, value] : cli.items()) cli_keys.insert(key);
  for (const auto& [key, value] : service.items()) service_keys.insert(key);
  EXPECT_EQ(cli_keys, service_keys);
  for (const char* key : {"backend", "device", "forward_kernel", "precision", "len", "window", "q_heads", "kv_heads",
                          "dim", "batch", "bias", "repeats", "token_density", "tile_density", "ideal_speedup"})
    EXPECT_EQ(cli.at(key), service.at(key)) << key;
  EXPECT_EQ(cli.at("precision"), "fp32");
  // DMA time is the mask build and the kernel timed together, so it is not below the mask build alone (medians of
  // the same work, on a quiet machine: allow the spread).
  for (const auto* row : {&cli, &service})
    EXPECT_GE(row->at("dma_ms").get<double>() + row->at("dma_spread_ms").get<double>(),
              row->at("mask_build_ms").get<double>() * 0.5);
  EXPECT_TRUE(timing.dma_total.measured);
  EXPECT_DOUBLE_EQ(service.at("dma_ms").get<double>(), timing.dma_total_ms());
  EXPECT_FALSE(cli.contains("materialized_ms")) << "the CPU bench has no materialized baseline";
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
