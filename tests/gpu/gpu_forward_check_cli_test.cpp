// `dmascope-cli forward --backend cuda --check`: the GPU run against the CPU's fp32 reference, as a user runs it. The
// fp32 GPU forward is the reference's arithmetic in another summation order: on its own β and masks its logits are
// within 1e-4, and where its masks are the reference's (its β may differ in the last bits, which can turn a near-tie:
// doge_forward_cuda_test.cpp) so are its logits. The bf16 forward is measured: finite, every layer and bias head
// reported. Skipped without a GPU.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "tests/gpu/gpu_test_support.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

struct CheckOutput {
  int exit_code = -1;
  std::string text;
  double relative_error_percent = -1.0, same_masks_error_percent = -1.0, top_one_percent = -1.0;
  std::vector<double> kept_mask_percent;  // one per (layer, bias head) row of the table
};

CheckOutput run_check(const std::string& model, const char* precision) {
  CheckOutput out;
  out.exit_code = testing::run_command(testing::cli_path().string() + " forward --model " + model +
                                           " --random 301 --seed 4 --backend cuda --quiet --check --precision " +
                                           precision + " 2>&1",
                                       out.text);
  std::smatch match;
  const std::regex logits(R"(logits: relative error ([0-9.]+) %, top-1 agreement ([0-9.]+) %)");
  if (std::regex_search(out.text, match, logits)) {
    out.relative_error_percent = std::stod(match[1]);
    out.top_one_percent = std::stod(match[2]);
  }
  if (std::regex_search(out.text, match, std::regex(R"(arithmetic alone\): relative error ([0-9.]+) %)")))
    out.same_masks_error_percent = std::stod(match[1]);
  const std::regex row(R"(\n\s+\d+\s+\d+\s+([0-9.]+) %\s+\d+\s+\d+\s+[0-9.]+ %)");
  for (auto it = std::sregex_iterator(out.text.begin(), out.text.end(), row); it != std::sregex_iterator(); ++it)
    out.kept_mask_percent.push_back(std::stod((*it)[1]));
  return out;
}

TEST(GpuForwardCheckCli, Fp32RunIsTheReferenceAndBf16IsMeasuredEveryLayerAndHead) {
  SKIP_WITHOUT_GPU();
  const std::string model = (testing::fixtures_dir() / "models" / "gqa_f32").string();
  const std::size_t table_rows = 2 * 2;  // gqa_f32: 2 layers, 2 bias heads

  const CheckOutput fp32 = run_check(model, "fp32");
  ASSERT_EQ(fp32.exit_code, 0) << fp32.text;
  EXPECT_GE(fp32.same_masks_error_percent, 0.0) << fp32.text;
  EXPECT_LT(fp32.same_masks_error_percent, 0.01) << fp32.text;
  ASSERT_EQ(fp32.kept_mask_percent.size(), table_rows) << fp32.text;
  bool same_masks = true;
  for (double kept : fp32.kept_mask_percent) {
    EXPECT_GT(kept, 99.0) << fp32.text;
    same_masks &= kept == 100.0;
  }
  EXPECT_GE(fp32.relative_error_percent, 0.0) << fp32.text;
  if (same_masks) {
    EXPECT_LT(fp32.relative_error_percent, 0.01) << fp32.text;
    EXPECT_EQ(fp32.top_one_percent, 100.0) << fp32.text;
  }

  const CheckOutput bf16 = run_check(model, "bf16");
  ASSERT_EQ(bf16.exit_code, 0) << bf16.text;
  std::printf("%s\n", bf16.text.c_str());
  EXPECT_GT(bf16.relative_error_percent, 0.0) << bf16.text;  // finite: "not finite" would not match
  EXPECT_LT(bf16.relative_error_percent, 50.0) << bf16.text;
  EXPECT_GE(bf16.same_masks_error_percent, 0.0) << bf16.text;
  EXPECT_GT(bf16.top_one_percent, 50.0) << bf16.text;
  ASSERT_EQ(bf16.kept_mask_percent.size(), table_rows) << bf16.text;
  for (double kept : bf16.kept_mask_percent) EXPECT_GT(kept, 50.0) << bf16.text;
}

}  // namespace
}  // namespace dmascope
