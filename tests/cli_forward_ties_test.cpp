// `dmascope-cli forward` reports, per layer and bias head, the rows whose cut falls on a tie: in layer 0 β depends only
// on the token, so a sequence of few repeated tokens ties at the cut, and the CLI's count is dma_cut_ties of that
// layer's β (the same forward run in this process).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <sstream>

#include "core/mask/cut_ties.h"
#include "core/model/doge_forward.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

TEST(CliForwardTies, TableCountsTheRowsCutOnATiePerBiasHeadAsCoreDoes) {
  const auto model_dir = testing::fixtures_dir() / "models" / "gqa_f32";
  const std::vector<std::int32_t> ids = {5, 6, 5, 7, 5, 6, 5, 7, 5, 6, 5, 7, 5, 6, 5, 7, 9, 9, 9, 9};
  std::string id_list;
  for (const auto id : ids) id_list += (id_list.empty() ? "" : ",") + std::to_string(id);
  std::string output;
  ASSERT_EQ(testing::run_command(fmt::format("{} forward --model {} --ids {} --window 3", testing::cli_path().string(),
                                             model_dir.string(), id_list),
                                 output),
            0)
      << output;
  ASSERT_NE(output.find("cut on tie"), std::string::npos) << output;

  const DogeModel model = DogeModel::load(model_dir);
  ForwardOptions options;
  options.window = 3;
  const ForwardResult result = doge_forward(model, ids, options);
  const Tensor& beta = result.layers[0].dyn_bias;
  const auto ties = dma_cut_ties_per_head({beta.data<float>(), static_cast<std::size_t>(beta.numel())},
                                          model.weights.bias_heads, 3, MaskVariant::PerRowTopK);
  std::int64_t total = 0;
  for (std::size_t head = 0; head < ties.size(); ++head) {
    total += ties[head].count();
    // The row "    0  <head> ... <count> rows".
    std::istringstream lines(output);
    std::string line;
    bool found = false;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string layer_field, head_field;
      fields >> layer_field >> head_field;
      if (layer_field != "0" || head_field != std::to_string(head)) continue;
      found = true;
      EXPECT_NE(line.find(fmt::format(" {} rows", ties[head].count())), std::string::npos) << line;
    }
    EXPECT_TRUE(found) << output;
  }
  EXPECT_GT(total, 0) << "repeated tokens should tie at the cut in layer 0";
}

}  // namespace
}  // namespace dmascope
