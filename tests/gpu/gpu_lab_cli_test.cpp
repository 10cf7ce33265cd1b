// `dmascope-cli compare --backend cuda` against the same command on the CPU, on a small random model: the same rows,
// the same kept sets (densities), metrics within the GPU metric tolerances, and gpu_ms on every GPU row only.
// Skipped without a GPU.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <random>
#include <string>

#include "tests/gpu/gpu_test_support.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

// As tests/gpu/gpu_lab_test.cpp's: the recall is a sum of fp32 probabilities (expf vs std::exp, tree vs fp64 sum).
constexpr double kRecallTolerance = 1e-5;
// The output error's O_S from the gather kernel (fp32, online softmax) vs the CPU's (complement form or direct).
constexpr double kErrorAbsoluteTolerance = 2e-5;
constexpr double kErrorRelativeTolerance = 1e-3;

nlohmann::json compare_rows(const std::string& model, const std::string& backend, std::uint32_t seed) {
  std::string output;
  const int code = testing::run_command(testing::cli_path().string() + " compare --model " + model +
                                            " --random 700 --seed " + std::to_string(seed) +
                                            " --window 40 --dam-capture-length 64 --dam-sequences 2 --quiet --json"
                                            " --backend " + backend + " 2>/dev/null",
                                        output);
  EXPECT_EQ(code, 0) << output;
  return nlohmann::json::parse(output.substr(output.find('[')));
}

TEST(GpuLabCli, CompareOnCudaGivesTheCpuRows) {
  SKIP_WITHOUT_GPU();
  const auto dir = testing::scratch_dir();
  const std::string model = (dir / "model").string();
  std::string output;
  // The tiny preset at head dimension 16 (a multiple of 4, as the gather kernel needs).
  ASSERT_EQ(testing::run_command(testing::cli_path().string() + " make-model --preset tiny --out " + model, output), 0)
      << output;
  const std::uint32_t seed = std::random_device{}() % 100000;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const nlohmann::json cpu = compare_rows(model, "cpu", seed), gpu = compare_rows(model, "cuda", seed);
  ASSERT_EQ(cpu.size(), gpu.size());
  ASSERT_EQ(cpu.size(), 2u * 4u * 7u);  // 2 layers × 4 heads × 7 strategies
  for (std::size_t r = 0; r < cpu.size(); ++r) {
    const auto &c = cpu[r], &g = gpu[r];
    SCOPED_TRACE(c.dump());
    for (const char* field : {"layer", "head", "strategy", "window", "causal_entries"})
      EXPECT_EQ(c.at(field), g.at(field)) << field;
    // DAM calibrates on forwards of the backend's own (the GPU's fp32 forward, whose sums differ from the CPU's in the
    // last bits): a map entry within that of τ or μ may land on the other side, so its kept count may differ by a
    // few entries; every other strategy keeps the same count by construction.
    const auto kept_cpu = c.at("kept_entries").get<double>(), kept_gpu = g.at("kept_entries").get<double>();
    if (c.at("strategy") == "dam")
      EXPECT_NEAR(kept_gpu, kept_cpu, 0.01 * kept_cpu + 2.0);
    else
      EXPECT_EQ(kept_gpu, kept_cpu);
    EXPECT_TRUE(c.at("gpu_ms").is_null());
    ASSERT_TRUE(g.at("gpu_ms").is_number());
    const bool on_dma_kernels = c.at("strategy") == "dma" || c.at("strategy") == "shared" ||
                                c.at("strategy") == "swa" || c.at("strategy") == "sinks";
    EXPECT_EQ(g.at("gpu_kernel"), on_dma_kernels ? "dma" : "gather");
    EXPECT_GT(g.at("gpu_ms").get<double>(), 0.0);
    ASSERT_FALSE(g.at("non_finite").get<bool>());
    ASSERT_TRUE(g.at("mass_recall_mean").is_number() && g.at("output_rel_error").is_number());
    if (c.at("strategy") == "dam" && kept_gpu != kept_cpu) continue;  // other kept sets: other metrics
    EXPECT_NEAR(g.at("mass_recall_mean").get<double>(), c.at("mass_recall_mean").get<double>(), kRecallTolerance);
    EXPECT_NEAR(g.at("mass_recall_min").get<double>(), c.at("mass_recall_min").get<double>(), kRecallTolerance);
    const double error = c.at("output_rel_error").get<double>();
    EXPECT_NEAR(g.at("output_rel_error").get<double>(), error,
                kErrorAbsoluteTolerance + kErrorRelativeTolerance * error);
    // A near-tie of two logits may be ordered differently by the two sums of q·k (oracle, nsa): the kept counts are
    // the same by construction, a tile may differ; exact kept sets are gpu_lab_test.cpp's, on exact inputs.
    EXPECT_NEAR(g.at("tile_density").get<double>(), c.at("tile_density").get<double>(), 0.01);
  }
}

}  // namespace
}  // namespace dmascope
