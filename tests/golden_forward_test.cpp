// The CPU forward pass against transformers 5.17 itself: golden tensors captured from its eager forward by
// tests/fixtures/make_fixtures.py on tiny random Doge checkpoints (GQA/MHA, fp32/bf16 files, dense/CDMoE, sharded,
// dynamic NTK RoPE beyond max_position_embeddings, L > keep_window_size so that top-k fires, both weight layouts).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/model/doge_forward.h"
#include "core/formats/safetensors.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

// fp32 end to end; transformers and we sum in different orders, which costs a few ulp per op. The bar for
// logits is 1e-4 max abs, and every other captured tensor is held to it too, plus 1e-5 of the value for β: exp()
// turns a few ulp of its argument into a relative error, and β reaches the hundreds.
constexpr double kMaxAbsDifference = 1e-4;
constexpr double kBiasRelativeDifference = 1e-5;

struct GoldenCase {
  const char* model;
  const char* golden;
  std::int64_t window;  // 0 = the config's
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.model << "/" << c.golden << " w=" << c.window; }

std::string case_name(const ::testing::TestParamInfo<GoldenCase>& info) {
  std::string name = std::string(info.param.model) + "_" + info.param.golden;
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

std::vector<std::int32_t> golden_ids(const SafetensorsFile& golden) {
  const auto values = golden.tensor("input_ids").to_f32_vector();
  return {values.begin(), values.end()};
}

// Every tensor of `golden` except input_ids must be in `ours` with the same shape; floats within the bound, the
// kept mask bit-for-bit.
void expect_matches_golden(const std::map<std::string, Tensor>& ours, const SafetensorsFile& golden,
                           const std::string& what) {
  std::set<std::string> expected_names;
  for (const auto& entry : golden.entries()) {
    if (entry.name == "input_ids") continue;
    expected_names.insert(entry.name);
    auto it = ours.find(entry.name);
    ASSERT_NE(it, ours.end()) << what << ": missing " << entry.name;
    const Tensor& mine = it->second;
    ASSERT_EQ(mine.shape(), entry.shape) << what << ": " << entry.name;
    const auto want = golden.tensor(entry.name).to_f32_vector();
    const auto got = mine.to_f32_vector();
    if (entry.name.ends_with(".kept")) {
      EXPECT_EQ(got, want) << what << ": keep mask differs: " << entry.name;
      continue;
    }
    const double relative = entry.name.ends_with(".dyn_bias") ? kBiasRelativeDifference : 0.0;
    double worst = 0.0;  // the largest excess over the allowed difference
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double diff = std::fabs(static_cast<double>(got[i]) - want[i]);
      const double excess = diff - relative * std::fabs(want[i]);
      worst = std::isnan(diff) ? INFINITY : std::max(worst, excess);
    }
    EXPECT_LE(worst, kMaxAbsDifference) << what << ": " << entry.name;
  }
  for (const auto& [name, tensor] : ours)
    EXPECT_TRUE(expected_names.count(name)) << what << ": extra tensor " << name;
}

class GoldenForward : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenForward, CpuForwardReproducesTransformers) {
  const auto dir = testing::fixtures_dir() / "models" / GetParam().model;
  const auto golden = SafetensorsFile::open(dir / GetParam().golden);
  const DogeModel model = DogeModel::load(dir);
  ForwardOptions options;
  options.window = GetParam().window;
  options.capture_probs = true;
  const ForwardResult result = doge_forward(model, golden_ids(*golden), options);

  std::map<std::string, Tensor> ours = {{"embed", result.embed}, {"final_norm", result.final_norm},
                                        {"logits", result.logits}};
  for (std::size_t i = 0; i < result.layers.size(); ++i) {
    const LayerCapture& layer = result.layers[i];
    const std::string p = "layers." + std::to_string(i) + ".";
    const std::int64_t Hb = layer.death.dim(1), L = layer.death.dim(2);
    Tensor kept = Tensor::zeros(DType::U8, {1, Hb, L, L});
    for (std::int64_t n = 0; n < Hb; ++n) {
      const auto dense = dma_expand_keep(std::span<const std::int32_t>(layer.death.data<std::int32_t>() + n * L, L), L);
      std::copy(dense.begin(), dense.end(), kept.mutable_data<std::uint8_t>() + n * L * L);
    }
    ours.insert({{p + "q_rope", layer.q_rope}, {p + "k_rope", layer.k_rope}, {p + "v", layer.v}, {p + "dt", layer.dt},
                 {p + "dyn_bias", layer.dyn_bias}, {p + "kept", kept}, {p + "attn_probs", layer.attn_probs},
                 {p + "attn_out", layer.attn_out}, {p + "mlp_out", layer.mlp_out}, {p + "output", layer.output}});
  }
  expect_matches_golden(ours, *golden, GetParam().model);
}

TEST_P(GoldenForward, CliDumpWritesExactlyTheGoldenTensors) {
  const auto dir = testing::fixtures_dir() / "models" / GetParam().model;
  const auto golden = SafetensorsFile::open(dir / GetParam().golden);
  std::string ids;
  for (auto id : golden_ids(*golden)) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const auto out = testing::scratch_dir() / "dump.safetensors";
  std::string command = testing::cli_path().string() + " dump --model " + dir.string() + " --ids " + ids + " --out " +
                        out.string() + " --force";
  if (GetParam().window) command += " --window " + std::to_string(GetParam().window);
  std::string output;
  ASSERT_EQ(testing::run_command(command, output), 0) << output;
  const auto dumped = SafetensorsFile::open(out);
  std::map<std::string, Tensor> ours;
  for (const auto& entry : dumped->entries()) ours.emplace(entry.name, dumped->tensor(entry.name));
  expect_matches_golden(ours, *golden, std::string("cli dump ") + GetParam().model);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenForward,
                         ::testing::Values(GoldenCase{"gqa_f32", "golden.safetensors", 0},
                                           GoldenCase{"gqa_f32", "golden_w64.safetensors", 64},
                                           GoldenCase{"gqa_f32", "golden_w1.safetensors", 1},
                                           GoldenCase{"mha_bf16", "golden.safetensors", 0},
                                           GoldenCase{"moe_sharded_f32", "golden.safetensors", 0},
                                           GoldenCase{"oldlayout_f32", "golden.safetensors", 0}),
                         case_name);

}  // namespace
}  // namespace dmascope
