// The memory estimate every forward request is checked against before anything is allocated
// (core/model/forward_memory.h), and the refusals it leads to in the CPU forward and the CLI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <numeric>

#include "core/base/error.h"
#include "core/model/doge_forward.h"
#include "core/model/forward_memory.h"
#include "tests/run_command.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

DogeModel gqa_model() { return DogeModel::load(testing::fixtures_dir() / "models/gqa_f32"); }

TEST(ForwardMemory, OneByOneTilesAt64KTokensCountAStatusBytePerTilePerHeadAndLayer) {
  const DogeModel model = gqa_model();  // 2 layers, 2 bias heads
  ForwardOptions options;
  options.tiles = {1, 1};
  const ForwardMemoryEstimate estimate =
      estimate_cpu_forward_memory(model.config, model.weights.bias_heads, 65536, options, 4);
  EXPECT_EQ(estimate.tile_map_bytes, 2 * 2 * std::int64_t{65536} * 65536);  // 17.2 GB nobody asked for
  EXPECT_GT(estimate.total_bytes(), estimate.tile_map_bytes);
  options.tiles = {64, 64};
  EXPECT_EQ(estimate_cpu_forward_memory(model.config, 2, 65536, options, 4).tile_map_bytes, 2 * 2 * 1024 * 1024);
  options.capture = false;
  EXPECT_EQ(estimate_cpu_forward_memory(model.config, 2, 65536, options, 4).tile_map_bytes, 0);
}

TEST(ForwardMemory, ActivationsAndLogitsGrowLinearlyWithTokens) {
  const DogeModel model = gqa_model();
  ForwardOptions options;
  options.capture = false;
  const auto small = estimate_cpu_forward_memory(model.config, 2, 1000, options, 1);
  const auto large = estimate_cpu_forward_memory(model.config, 2, 10000, options, 1);
  EXPECT_EQ(large.activation_bytes, 10 * small.activation_bytes);
  EXPECT_EQ(large.logit_bytes, 10 * small.logit_bytes);
  EXPECT_EQ(small.logit_bytes, 2 * 4 * 1000 * 512);  // the projection's buffer and the tensor of [L, V] floats
  EXPECT_EQ(small.token_id_bytes, 4000);
}

TEST(ForwardMemory, AnAbsurdRequestSaturatesInsteadOfWrapping) {
  const DogeModel model = gqa_model();
  ForwardOptions options;
  options.capture_probs = true;
  options.tiles = {1, 1};
  const auto estimate = estimate_cpu_forward_memory(model.config, 2, std::int64_t{1} << 40, options, 1024);
  EXPECT_EQ(estimate.total_bytes(), std::numeric_limits<std::int64_t>::max());
  EXPECT_THAT(estimate.describe(), HasSubstr("more than 9.2 EB"));
}

TEST(ForwardMemory, GpuDeviceEstimateCountsTheBuffersRunAllocates) {
  const DogeModel model = gqa_model();
  ForwardOptions options;
  options.tiles = {4, 4};
  const std::int64_t L = 131072;
  const auto estimate = estimate_gpu_forward_device_memory(model.config, 2, L, options, 1, true, 1000);
  EXPECT_EQ(estimate.tile_map_bytes, 2 * (L / 4) * (L / 4));  // one layer's maps on the device
  EXPECT_EQ(estimate.logit_bytes, 4 * 512);                    // the last row only
  const auto without_maps = estimate_gpu_forward_device_memory(model.config, 2, L, options, 1, false, 1000);
  EXPECT_EQ(without_maps.tile_map_bytes, 0);
  EXPECT_EQ(without_maps.activation_bytes, estimate.activation_bytes);
}

TEST(ForwardMemory, RequireMemoryNamesTheEstimateAndWhatIsAvailable) {
  ForwardMemoryEstimate estimate;
  estimate.tile_map_bytes = 17'179'869'184;
  estimate.activation_bytes = 1'000'000;
  EXPECT_NO_THROW(require_memory(estimate, estimate.total_bytes(), "forward", "test"));
  try {
    require_memory(estimate, 3'100'000'000, "forward of 65536 tokens", "MemAvailable");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(std::string(error.what()),
                AllOf(HasSubstr("forward of 65536 tokens"), HasSubstr("17.2 GB"), HasSubstr("tile maps 17.2 GB"),
                      HasSubstr("only 3.1 GB is available"), HasSubstr("MemAvailable")));
  }
}

TEST(ForwardMemory, HostMemoryIsReadFromProcMeminfo) {
  const auto available = available_host_memory_bytes();
  ASSERT_TRUE(available.has_value());
  EXPECT_GT(*available, 0);
}

TEST(ForwardMemory, CpuForwardRefusesARequestBeyondAvailableMemoryBeforeAllocating) {
  const DogeModel model = gqa_model();
  ForwardOptions options;
  options.tiles = {1, 1};
  options.capture_probs = true;
  options.probs_max_bytes = std::numeric_limits<std::int64_t>::max();
  std::vector<std::int32_t> ids(200000);
  std::iota(ids.begin(), ids.end(), 0);
  for (auto& id : ids) id %= 512;
  try {  // probabilities alone: 2 layers × 4 heads × 200000² × 4 bytes = 1.28 TB
    doge_forward(model, ids, options);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(std::string(error.what()),
                AllOf(HasSubstr("forward of 200000 tokens"), HasSubstr("needs an estimated"),
                      HasSubstr("attention probabilities 1.3 TB"), HasSubstr("MemAvailable")));
  }
}

// The CLI takes at most 16M random tokens (a billion is a usage error before anything is made); the largest count it
// takes still gets the memory estimate before the ids exist: its tile maps alone are far past any machine's memory.
TEST(ForwardMemory, CliRefusesTheLargestRandomCountWithTheEstimateBeforeMakingThem) {
  std::string output;
  const int status = testing::run_command(
      fmt::format("{} forward --model {} --random 16777216 2>&1", testing::cli_path().string(),
                  (testing::fixtures_dir() / "models/gqa_f32").string()),
      output);
  EXPECT_NE(status, 0);
  EXPECT_THAT(output, AllOf(HasSubstr("forward of 16777216 tokens"), HasSubstr("needs an estimated")));
  output.clear();
  EXPECT_NE(testing::run_command(fmt::format("{} forward --model {} --random 1000000000 2>&1",
                                             testing::cli_path().string(),
                                             (testing::fixtures_dir() / "models/gqa_f32").string()),
                                 output),
            0);
  EXPECT_THAT(output, HasSubstr("--random: 1000000000 is out of range"));
}

}  // namespace
}  // namespace dmascope

namespace dmascope {
namespace {

// dump builds dense kept masks from the result; the check before the forward counts them, and says so.
TEST(ForwardMemory, OutputsAndWeightsToUploadAreCountedAndNamed) {
  ForwardMemoryEstimate estimate;
  estimate.activation_bytes = 1'000'000;
  estimate.output_bytes = 2'000'000'000;
  estimate.weight_bytes = 3'000'000;
  EXPECT_EQ(estimate.total_bytes(), 2'004'000'000);
  EXPECT_THAT(estimate.describe(), AllOf(HasSubstr("outputs 2.0 GB"), HasSubstr("weights 3.0 MB")));
}

}  // namespace
}  // namespace dmascope
