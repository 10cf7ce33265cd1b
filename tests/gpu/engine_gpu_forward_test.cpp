// The app's pipeline on the CUDA backend (engine/pipeline/pipeline_compute.cpp): masks, β and tile maps come from the GPU
// forward (kernels/doge_forward_cuda.h), the result says so, the probabilities at small L are those of the GPU's
// mask, and the recompute time at 32K and 128K tokens (printed; the app's measured recompute: bench/app/README.md).
// Skipped without a GPU.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "engine/timing/layer_timing.h"
#include "engine/backend/backend_factory.h"
#include "engine/pipeline/logit_view.h"
#include "engine/pipeline/mask_grid.h"
#include "engine/pipeline/pipeline_compute.h"
#ifdef DMASCOPE_HAS_CUDA
#include "kernels/cuda_captures.h"
#include "tests/support/device_mask_download.h"
#endif
#include "core/mask/dma_mask.h"
#include "core/model/random_model.h"

namespace dmascope::engine {
namespace {

#define SKIP_WITHOUT_CUDA()                                              \
  do {                                                                   \
    std::string why_not;                                                 \
    if (!cuda_backend_available(&why_not)) GTEST_SKIP() << why_not;      \
  } while (0)

std::string models_dir() {
  const char* from_env = std::getenv("DMASCOPE_SOURCE_DIR");
  return std::string(from_env && *from_env ? from_env : DMASCOPE_SOURCE_DIR) + "/assets/models/";
}

PipelineSettings settings_for(const std::string& model_dir, std::int64_t length, Backend backend) {
  PipelineSettings settings;
  settings.model_dir = model_dir;
  settings.toy = ToySequenceKind::Induction;
  settings.length = length;
  settings.tile_size = 16;
  settings.backend = backend;
  return settings;
}

// A short DMA timing that keeps its output: for checking that two ways of feeding a layer give the same result.
AttentionTimingOptions output_check_options(Precision precision) {
  AttentionTimingOptions options;
  options.precision = precision;
  options.warmup = 1;
  options.repeats = 2;
  options.baselines = false;
  options.keep_dma_output = true;
  return options;
}

TEST(AppGpuForward, CudaBackendTakesMasksFromTheGpuAndProbabilitiesFollowTheGpuMask) {
  SKIP_WITHOUT_CUDA();
  ModelCache cpu_models, gpu_models;
  ComputeProgress progress;
  std::atomic<bool> cancel{false};
  auto settings = settings_for(models_dir() + "doge-toy-mix", 301, Backend::Cuda);
  // fp32, the exact reference: its masks equal the CPU's (the bf16 forward's are compared in doge_forward_bf16_test).
  settings.model_precision = Precision::F32;
  const auto gpu = compute_pipeline_result(settings, gpu_models, progress, cancel);
  auto cpu_settings = settings;
  cpu_settings.backend = Backend::Cpu;
  const auto cpu = compute_pipeline_result(cpu_settings, cpu_models, progress, cancel);
  EXPECT_EQ(gpu->mask_device.rfind("GPU forward on ", 0), 0u) << gpu->mask_device;
  EXPECT_EQ(cpu->mask_device, "CPU forward, fp32");
  EXPECT_GT(gpu->gpu_forward_ms, 0.0);
  ASSERT_EQ(gpu->layers(), cpu->layers());
  // q/k/v stayed on the device: none of them is in the host captures, the views are computed there.
  EXPECT_FALSE(gpu->forward.layers[0].q_rope.defined());
  ASSERT_TRUE(gpu->device_captures);
  EXPECT_EQ(gpu->device_captures->attention_inputs_missing(), "");
  EXPECT_STREQ(logit_view_device(*gpu), "GPU");
  EXPECT_STREQ(logit_view_device(*cpu), "CPU");
  const std::int64_t L = gpu->length();
  for (std::int64_t layer = 0; layer < gpu->layers(); ++layer) {
    for (std::int64_t head = 0; head < gpu->bias_heads(); ++head) {
      const auto g = gpu->death(layer, head), c = cpu->death(layer, head);
      // A trained model's β at 301 tokens has no near-ties at fp32 resolution (tests/gpu/doge_forward_cuda_test.cpp
      // proves the general case); equality here checks the wiring.
      EXPECT_TRUE(std::equal(g.begin(), g.end(), c.begin())) << "layer " << layer << " head " << head;
      EXPECT_EQ(gpu->tile_map(layer, head).status, cpu->tile_map(layer, head).status);
    }
    // One pixel per cell: the GPU's probabilities are its mask's softmax (rows sum to 1, nothing outside the mask),
    // and equal the CPU pipeline's within the two forwards' fp32 differences.
    for (std::int64_t q_head = 0; q_head < gpu->q_heads(); ++q_head) {
      const LogitViewRequest view{layer, q_head, visible_window(whole_matrix(L), L), L, L, ReduceMode::Mean, true};
      const LogitGrid on_gpu = compute_logit_grid(*gpu, view, {});
      const LogitGrid on_cpu = compute_logit_grid(*cpu, view, {});
      ASSERT_FALSE(on_gpu.sampled);
      const auto death = gpu->death(layer, gpu->bias_head_of(q_head));
      for (std::int64_t i = 0; i < L; ++i) {
        double row_sum = 0.0;
        for (std::int64_t j = 0; j <= i; ++j) {
          const auto p = static_cast<std::size_t>(i * L + j);
          if (!dma_keeps(death, i, j)) {
            ASSERT_EQ(on_gpu.coverage[p], LogitPixel::AllMasked) << "probability outside the GPU's mask";
            continue;
          }
          ASSERT_EQ(on_gpu.coverage[p], LogitPixel::Value);
          ASSERT_FALSE(std::isnan(on_gpu.values[p]));
          ASSERT_NEAR(on_gpu.values[p], on_cpu.values[p], 1e-4) << "layer " << layer << " row " << i << " key " << j;
          row_sum += on_gpu.values[p];
        }
        ASSERT_NEAR(row_sum, 1.0, 1e-5) << "layer " << layer << " head " << q_head << " row " << i;
      }
      const LogitCell cell = logit_cell(*gpu, layer, q_head, L - 1, L - 1);
      EXPECT_NEAR(cell.probability, on_gpu.values[static_cast<std::size_t>(L * L - 1)], 1e-6);
    }
  }
  // Timing a layer names its inputs on the device; downloaded, they match the CPU forward's captures.
  const AttentionInputs kept = layer_attention_inputs(*gpu, 1, gpu->forward.window);
  EXPECT_TRUE(kept.on_device());
  EXPECT_TRUE(kept.q.empty());
  const AttentionInputs inputs = host_attention_inputs(kept);
  const AttentionInputs reference = layer_attention_inputs(*cpu, 1, cpu->forward.window);
  ASSERT_EQ(inputs.q.size(), reference.q.size());
  ASSERT_EQ(inputs.v.size(), reference.v.size());
  for (std::size_t n = 0; n < inputs.q.size(); n += 7) ASSERT_NEAR(inputs.q[n], reference.q[n], 1e-3) << n;
  for (std::size_t n = 0; n < inputs.v.size(); n += 7) ASSERT_NEAR(inputs.v[n], reference.v[n], 1e-3) << n;
  EXPECT_EQ(inputs.beta.size(), reference.beta.size());
  // Timed where they lie (fp32 captures converted on the device) and from the host copy (rounded on the host): the
  // same problem, so the same mask and the same output bit for bit; the kernel's tile map too.
  const ComputeBackend& cuda = compute_backend(Backend::Cuda);
  for (const Precision precision : {Precision::BF16, Precision::F16}) {
    const AttentionTimingOptions options = output_check_options(precision);
    const LayerTiming in_place = cuda.time_attention(kept, options, cancel);
    const LayerTiming copied = cuda.time_attention(inputs, options, cancel);
    ASSERT_FALSE(in_place.dma_output.empty());
    EXPECT_EQ(in_place.dma_output, copied.dma_output) << precision_name(precision);
    EXPECT_EQ(in_place.token_density, copied.token_density);
    EXPECT_EQ(in_place.tile_density, copied.tile_density);
    EXPECT_EQ(cuda.instrument_attention(kept, precision).status, cuda.instrument_attention(inputs, precision).status);
  }
  // The weights stay on the device for the next run of the same model.
  const std::shared_ptr<void> uploaded = gpu_models.gpu_forward;
  ASSERT_TRUE(uploaded);
  compute_pipeline_result(settings, gpu_models, progress, cancel);
  EXPECT_EQ(gpu_models.gpu_forward, uploaded);
}

// Not a pass/fail test: prints the recompute time (compute_pipeline_result, CUDA backend, warm weights) as the app's
// worker sees it after a slider change. Median of 5 after one cold run that uploads the weights.
TEST(AppGpuForward, RecomputeTimeAt32KAnd128KTokens) {
  SKIP_WITHOUT_CUDA();
  const std::filesystem::path doge_20m = std::filesystem::temp_directory_path() / "dmascope-gpu-forward" / "doge-20m";
  if (!std::filesystem::exists(doge_20m / "model.safetensors"))
    write_random_doge(doge_20m, random_model_preset("doge-20m"), DType::F32, 7);
  for (const std::string& model : {models_dir() + "doge-toy-mix", doge_20m.string()})
    for (std::int64_t length : {32768, 131072}) {
      ModelCache models;
      ComputeProgress progress;
      std::atomic<bool> cancel{false};
      auto settings = settings_for(model, length, Backend::Cuda);
      settings.window = 64;
      const double cold_ms = compute_pipeline_result(settings, models, progress, cancel)->compute_ms;
      std::vector<double> compute_ms, gpu_ms;
      std::string device;
      for (int repeat = 0; repeat < 5; ++repeat) {
        const auto result = compute_pipeline_result(settings, models, progress, cancel);
        compute_ms.push_back(result->compute_ms);
        gpu_ms.push_back(result->gpu_forward_ms);
        device = result->mask_device;
      }
      std::sort(compute_ms.begin(), compute_ms.end());
      std::sort(gpu_ms.begin(), gpu_ms.end());
      std::cout << fmt::format(
          "[ recompute ] {} L={} w=64 tile=16 toy=induction: compute_pipeline_result {:.1f} ms median of 5 (min "
          "{:.1f}, max {:.1f}; cold with weight upload {:.1f}), GPU forward {:.2f} ms; {}\n",
          std::filesystem::path(model).filename().string(), length, compute_ms[2], compute_ms.front(),
          compute_ms.back(), cold_ms, gpu_ms[2], device);
      EXPECT_EQ(device.rfind("GPU forward on ", 0), 0u) << device;
    }
}

}  // namespace
}  // namespace dmascope::engine

#ifdef DMASCOPE_HAS_CUDA  // CudaCaptures exists only in a build with the kernels
namespace dmascope::engine {
namespace {

// The CUDA backend's heatmap reduces its views on the GPU from the death indices the forward left there: they equal
// the downloaded ones, and the grids equal the CPU's on the whole matrix and zoomed views; the CPU backend has none.
TEST(AppGpuForward, TheHeatmapIsReducedOnTheGpuFromTheForwardsOwnMasks) {
  SKIP_WITHOUT_CUDA();
  ModelCache models;
  ComputeProgress progress;
  std::atomic<bool> cancel{false};
  const auto gpu =
      compute_pipeline_result(settings_for(models_dir() + "doge-toy-mix", 20000, Backend::Cuda), models, progress, cancel);
  ASSERT_TRUE(gpu->device_captures) << gpu->mask_device;
  const std::int64_t L = gpu->length();
  for (std::int64_t layer = 0; layer < gpu->layers(); ++layer)
    for (std::int64_t head = 0; head < gpu->bias_heads(); ++head) {
      const std::vector<std::int32_t> on_device = cuda::test_support::download_device_mask(
          *static_cast<const cuda::CudaCaptures*>(gpu->device_captures.get()), layer, head);
      const auto host = gpu->death(layer, head);
      ASSERT_TRUE(std::equal(host.begin(), host.end(), on_device.begin())) << "layer " << layer << " head " << head;
      for (const double zoom : {1.0, 3.0, 40.0})
        for (const ReduceMode mode : {ReduceMode::Mean, ReduceMode::Max}) {
          const MatrixWindow window = visible_window(clamp_zoom_pan({zoom, L * 0.7, L * 0.4}, L, 554.0), L);
          std::string where;
          const auto grid = reduce_result_mask(*gpu, layer, head, window, 554, 554, mode, &where);
          EXPECT_EQ(where, zoom < 40 ? "GPU" : "CPU (zoomed in)");
          EXPECT_EQ(grid, reduce_mask_to_grid(host, window, 554, 554, mode)) << "zoom " << zoom;
        }
    }
  // The bf16 forward's captures timed where they lie equal the same layer timed from its host copy.
  const AttentionInputs kept = layer_attention_inputs(*gpu, 1, gpu->forward.window);
  ASSERT_TRUE(kept.on_device());
  const AttentionInputs copy = host_attention_inputs(kept);
  for (const Precision precision : {Precision::BF16, Precision::F16}) {
    const AttentionTimingOptions options = output_check_options(precision);
    const ComputeBackend& cuda = compute_backend(Backend::Cuda);
    EXPECT_EQ(cuda.time_attention(kept, options, cancel).dma_output, cuda.time_attention(copy, options, cancel).dma_output)
        << precision_name(precision);
  }
  ModelCache cpu_models;
  const auto cpu = compute_pipeline_result(settings_for(models_dir() + "doge-toy-mix", 2000, Backend::Cpu), cpu_models,
                                           progress, cancel);
  EXPECT_FALSE(cpu->device_captures);
}

}  // namespace
}  // namespace dmascope::engine
#endif
