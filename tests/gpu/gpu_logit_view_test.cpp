// The logits and probabilities views on the GPU (kernels/logit_view.cu through CudaCaptures) against their CPU twins
// (row_log_sum_exp and reduce_logits_to_grid, core/view/view_reduce.h) on fresh random q, k and β in fp32 and bf16,
// from one pixel per cell to zoomed-out sampled grids at 32K tokens; the tooltip's cell and the timing inputs' download
// too. NaN never passes. Skipped without a GPU.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "core/base/error.h"
#include "core/formats/tensor.h"
#include "core/mask/dma_mask.h"
#include "core/view/view_reduce.h"
#include "kernels/cuda_captures.h"
#include "tests/gpu/gpu_test_support.h"

namespace dmascope::cuda {
namespace {

using test_support::random_beta;

constexpr std::int64_t kQHeads = 4, kKvHeads = 2, kBiasHeads = 2, kLayers = 2;

// Host copies of what the captures hold (values already rounded to the element type), per layer.
struct HostLayer {
  std::vector<float> q, k, v, beta;  // [H, L, d], [Hkv, L, d], [Hkv, L, d], [Hb, L]
  std::vector<std::int32_t> death;   // [Hb, L]
};

void upload(void* target, const std::vector<float>& values, std::int64_t element_bytes) {
  if (element_bytes == 4) {
    ASSERT_EQ(cudaMemcpy(target, values.data(), values.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
    return;
  }
  std::vector<std::uint16_t> bits(values.size());
  for (std::size_t n = 0; n < values.size(); ++n) bits[n] = f32_to_bf16(values[n]).bits;
  ASSERT_EQ(cudaMemcpy(target, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
}

std::vector<HostLayer> fill(CudaCaptures& captures, std::int64_t L, std::int64_t d, std::int64_t window,
                            std::int64_t element_bytes, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<HostLayer> layers(kLayers);
  for (std::int64_t layer = 0; layer < kLayers; ++layer) {
    HostLayer& h = layers[static_cast<std::size_t>(layer)];
    auto random = [&](std::int64_t count) {
      std::vector<float> values(static_cast<std::size_t>(count));
      for (float& x : values) x = element_bytes == 2 ? round_to_bf16(normal(rng)) : normal(rng);
      return values;
    };
    h.q = random(kQHeads * L * d);
    h.k = random(kKvHeads * L * d);
    h.v = random(kKvHeads * L * d);
    for (std::int64_t head = 0; head < kBiasHeads; ++head) {
      const std::vector<float> beta = random_beta(L, rng, head == 1 && layer == 1 ? 3 : 0);  // ties in one head
      h.beta.insert(h.beta.end(), beta.begin(), beta.end());
      const std::vector<std::int32_t> death = dma_death_indices(beta, window);
      h.death.insert(h.death.end(), death.begin(), death.end());
    }
    upload(captures.q_data(layer), h.q, element_bytes);
    upload(captures.k_data(layer), h.k, element_bytes);
    upload(captures.v_data(layer), h.v, element_bytes);
    EXPECT_EQ(cudaMemcpy(captures.beta_data(layer), h.beta.data(), h.beta.size() * 4, cudaMemcpyHostToDevice),
              cudaSuccess);
    EXPECT_EQ(cudaMemcpy(captures.death_data(layer), h.death.data(), h.death.size() * 4, cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  return layers;
}

LogitSource host_source(const HostLayer& h, std::int64_t q_head, std::int64_t L, std::int64_t d) {
  const std::int64_t kv = q_head / (kQHeads / kKvHeads), bias = q_head / (kQHeads / kBiasHeads);
  LogitSource source;
  source.query = std::span<const float>(h.q).subspan(static_cast<std::size_t>(q_head * L * d), static_cast<std::size_t>(L * d));
  source.key = std::span<const float>(h.k).subspan(static_cast<std::size_t>(kv * L * d), static_cast<std::size_t>(L * d));
  source.beta = std::span<const float>(h.beta).subspan(static_cast<std::size_t>(bias * L), static_cast<std::size_t>(L));
  source.death =
      std::span<const std::int32_t>(h.death).subspan(static_cast<std::size_t>(bias * L), static_cast<std::size_t>(L));
  source.head_dim = d;
  source.scale = 1.0f / std::sqrt(static_cast<float>(d));
  return source;
}

struct ViewCase {
  std::int64_t length, head_dim, window, pixels;
  double zoom, center_row, center_col;
};

TEST(GpuLogitView, LogitAndProbabilityGridsEqualTheCpuTwinOnEveryPixel) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(2026);
  const ViewCase cases[] = {{1, 64, 1, 1, 1, 0.5, 0.5},          {41, 64, 6, 41, 1, 0, 0},
                            {300, 128, 32, 97, 2.5, 200, 120},   {1000, 64, 1000, 300, 1, 0, 0},
                            {4096, 128, 256, 554, 1, 0, 0},      {4096, 64, 100, 554, 12, 3000, 2900},
                            {32768, 128, 2048, 554, 1, 0, 0},    {32768, 64, 1024, 554, 40, 20000, 19800}};
  for (const std::int64_t element_bytes : {4, 2}) {
    for (const ViewCase& c : cases) {
      SCOPED_TRACE(testing::Message() << (element_bytes == 2 ? "bf16" : "fp32") << " L" << c.length << " d"
                                      << c.head_dim << " w" << c.window << " " << c.pixels << "px zoom " << c.zoom);
      const std::int64_t L = c.length, d = c.head_dim;
      CudaCaptures captures(kLayers, kBiasHeads, L, CaptureInputsShape{kQHeads, kKvHeads, d, element_bytes});
      ASSERT_EQ(captures.attention_inputs_missing(), "");
      const std::vector<HostLayer> host = fill(captures, L, d, c.window, element_bytes, rng);
      const MatrixWindow window = visible_window(clamp_zoom_pan({c.zoom, c.center_row, c.center_col}, L,
                                                                static_cast<double>(c.pixels)), L);
      LogitGridOptions options;
      options.samples_per_pixel = logit_samples_per_pixel(c.pixels * c.pixels);
      for (const std::int64_t layer : {std::int64_t{0}, kLayers - 1})
        for (const std::int64_t q_head : {std::int64_t{0}, kQHeads - 1})
          for (const bool probabilities : {false, true})
            for (const ReduceMode mode : {ReduceMode::Mean, ReduceMode::Max}) {
              SCOPED_TRACE(testing::Message() << "layer " << layer << " head " << q_head
                                              << (probabilities ? " probabilities " : " logits ")
                                              << reduce_mode_name(mode));
              LogitSource source = host_source(host[static_cast<std::size_t>(layer)], q_head, L, d);
              std::vector<float> lse;
              if (probabilities) {
                const CellRange rows = rows_in_view(window, c.pixels, L);
                lse = row_log_sum_exp(source, rows);
                source.row_lse = lse;
                source.lse_first_row = rows.begin;
              }
              const LogitGrid want = reduce_logits_to_grid(source, window, c.pixels, c.pixels, mode, options);
              const auto start = std::chrono::steady_clock::now();
              const LogitGrid got =
                  captures.logit_grid(layer, q_head, window, c.pixels, c.pixels, mode, options, probabilities);
              const double ms =
                  std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
              if (L == 32768 && layer == 0 && q_head == 0 && mode == ReduceMode::Mean)
                std::printf("[ info     ] %s L %lld d %lld %lld² px zoom %.0f: %s grid %.2f ms (%lld entries%s)\n",
                            element_bytes == 2 ? "bf16" : "fp32", static_cast<long long>(L),
                            static_cast<long long>(d), static_cast<long long>(c.pixels), c.zoom,
                            probabilities ? "probability" : "logit", ms,
                            static_cast<long long>(got.computed_entries), got.sampled ? ", sampled" : "");
              ASSERT_FALSE(got.cancelled);
              EXPECT_EQ(got.kept_entries, want.kept_entries);
              EXPECT_EQ(got.computed_entries, want.computed_entries);
              EXPECT_EQ(got.sampled, want.sampled);
              ASSERT_EQ(got.values.size(), want.values.size());
              for (std::size_t p = 0; p < want.values.size(); ++p) {
                ASSERT_EQ(got.coverage[p], want.coverage[p]) << "pixel " << p;
                if (want.coverage[p] != LogitPixel::Value) continue;
                ASSERT_FALSE(std::isnan(got.values[p])) << "pixel " << p;
                const double tolerance = probabilities ? 1e-6 + 1e-5 * std::abs(want.values[p])
                                                       : 1e-6 + 1e-6 * std::abs(want.values[p]);
                ASSERT_NEAR(got.values[p], want.values[p], tolerance) << "pixel " << p;
              }
            }
      // The tooltip's cell: a kept entry of the last row and a masked one, where there is one.
      const LogitSource source = host_source(host[0], 1, L, d);
      const std::int64_t i = L - 1;
      for (std::int64_t j : {i, i / 2, std::int64_t{0}}) {
        const LogitCell cell = captures.cell(0, 1, i, j);
        if (!dma_keeps(source.death, i, j)) {
          EXPECT_TRUE(std::isinf(cell.logit) && cell.logit < 0);
          EXPECT_EQ(cell.probability, 0.0f);
          continue;
        }
        const std::vector<float> lse = row_log_sum_exp(source, {i, i + 1});
        LogitSource with_lse = source;
        with_lse.row_lse = lse;
        with_lse.lse_first_row = i;
        EXPECT_NEAR(cell.logit, dma_logit(source, i, j), 1e-6 + 1e-6 * std::abs(cell.logit));
        EXPECT_NEAR(cell.probability, dma_probability(with_lse, i, j), 1e-6 + 1e-5 * cell.probability);
      }
      // The timing inputs' download: the values uploaded.
      const AttentionInputs inputs = captures.attention_inputs(kLayers - 1);
      EXPECT_EQ(inputs.q, host[kLayers - 1].q);
      EXPECT_EQ(inputs.k, host[kLayers - 1].k);
      EXPECT_EQ(inputs.v, host[kLayers - 1].v);
      EXPECT_EQ(inputs.beta, host[kLayers - 1].beta);
    }
  }
}

TEST(GpuLogitView, CapturesWithoutQAndKRefuseTheViewsSayingWhy) {
  SKIP_WITHOUT_GPU();
  CudaCaptures masks_only(1, 1, 64, std::nullopt);
  EXPECT_NE(masks_only.attention_inputs_missing().find("not asked"), std::string::npos);
  const MatrixWindow window = visible_window(whole_matrix(64), 64);
  EXPECT_THROW(masks_only.logit_grid(0, 0, window, 8, 8, ReduceMode::Mean, {}, false), Error);
  EXPECT_THROW(masks_only.attention_inputs(0), Error);
  CudaCaptures kept(1, 1, 64, CaptureInputsShape{1, 1, 64, 2});
  EXPECT_THROW(kept.logit_grid(0, 1, window, 8, 8, ReduceMode::Mean, {}, false), Error) << "head out of range";
  EXPECT_THROW(kept.logit_grid(1, 0, window, 8, 8, ReduceMode::Mean, {}, false), Error) << "layer out of range";
}

}  // namespace
}  // namespace dmascope::cuda
