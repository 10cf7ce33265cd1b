// `dmascope-cli bench --save-output`: the file holds what an outside check needs, and its out_rows are the DMA output
// of those very inputs — checked here the way tools/bench_peers.py checks the GPU's: a masked softmax in double over
// the dense top-w mask (tests/support), on the sampled rows. The sampling always includes the last row.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>

#include "core/formats/safetensors.h"
#include "engine/timing/bench_output_file.h"
#include "tests/support/dma_dense_reference.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

TEST(BenchOutputFile, SampledRowsAreSpreadAscendingAndEndOnTheLastRow) {
  EXPECT_EQ(engine::sampled_rows(10, 3), (std::vector<std::int64_t>{2, 5, 9}));
  EXPECT_EQ(engine::sampled_rows(4, 9), (std::vector<std::int64_t>{0, 1, 2, 3}));
  const auto rows = engine::sampled_rows(32768, 64);
  ASSERT_EQ(rows.size(), 64u);
  EXPECT_EQ(rows.back(), 32767);
  for (std::size_t n = 1; n < rows.size(); ++n) EXPECT_GT(rows[n], rows[n - 1]);
}

std::vector<float> floats(const Tensor& t) {
  const Tensor f = t.to(DType::F32);
  return {f.data<float>(), f.data<float>() + f.numel()};
}

TEST(BenchOutputFile, CpuOutputRowsMatchAnFp64MaskedSoftmaxOfTheSavedInputs) {
  const auto path = testing::scratch_dir() / "row.safetensors";
  const std::int64_t L = 300, w = 40, Hq = 2, d = 64;
  std::string output;
  const std::string command = fmt::format("{} bench --backend cpu --len {} --window {} --heads 2/1 --dim {} --repeats 1 "
                                          "--warmup 0 --bias clustered --json --save-output {} --save-rows 16",
                                          testing::cli_path().string(), L, w, d, path.string());
  ASSERT_EQ(testing::run_command(command, output), 0) << output;
  // A second run refuses to replace the file without --force.
  EXPECT_NE(testing::run_command(command, output), 0);
  EXPECT_NE(output.find(path.filename().string()), std::string::npos) << output;

  const auto file = SafetensorsFile::open(path);
  const auto rows_tensor = file->tensor("rows");
  const std::vector<std::int64_t> rows(rows_tensor.data<std::int64_t>(), rows_tensor.data<std::int64_t>() + 16);
  EXPECT_EQ(rows, engine::sampled_rows(L, 16));
  const auto q = floats(file->tensor("q_rows")), k = floats(file->tensor("k")), v = floats(file->tensor("v")),
             beta = floats(file->tensor("beta")), out = floats(file->tensor("out_rows"));
  ASSERT_EQ(out.size(), static_cast<std::size_t>(Hq * 16 * d));
  const auto keep = dma_dense_keep_reference(beta, L, w);
  double worst = 0;
  for (std::int64_t h = 0; h < Hq; ++h)
    for (std::int64_t n = 0; n < 16; ++n) {
      const std::int64_t i = rows[n];
      std::vector<double> score(static_cast<std::size_t>(i + 1), -INFINITY);
      double top = -INFINITY;
      for (std::int64_t j = 0; j <= i; ++j) {
        if (!keep[i * L + j]) continue;
        double dot = 0;
        for (std::int64_t c = 0; c < d; ++c) dot += double(q[(h * 16 + n) * d + c]) * k[j * d + c];
        score[j] = dot / std::sqrt(double(d)) + beta[j];
        top = std::max(top, score[j]);
      }
      double sum = 0;
      std::vector<double> expected(static_cast<std::size_t>(d), 0.0);
      for (std::int64_t j = 0; j <= i; ++j) {
        if (!keep[i * L + j]) continue;
        const double p = std::exp(score[j] - top);
        sum += p;
        for (std::int64_t c = 0; c < d; ++c) expected[c] += p * v[j * d + c];
      }
      for (std::int64_t c = 0; c < d; ++c)
        worst = std::max(worst, std::abs(expected[c] / sum - out[(h * 16 + n) * d + c]));
    }
  // fp32 CPU kernel against double: a few ulps of values of order 1.
  EXPECT_LT(worst, 1e-4);
}

}  // namespace
}  // namespace dmascope
