// The CUDA side of the Timing view and of the kernel tile map (stubs that say why not in a build without kernels).
// Inputs are rounded to the chosen dtype on the host and uploaded once; the timed work is the DmaRunner calls alone.
#include <algorithm>

#include <fmt/format.h>

#include "engine/timing/layer_timing.h"
#include "engine/timing/timing_math.h"
#include "core/attention/tile_sizes.h"
#include "core/base/error.h"

#ifdef DMASCOPE_HAS_CUDA
#include <cuda_runtime_api.h>

#include "kernels/dma_cuda.h"
#endif

namespace dmascope::engine {

#ifdef DMASCOPE_HAS_CUDA

bool cuda_backend_available(std::string* why_not) {
  const cuda::DeviceInfo info = cuda::device_info();
  if (!info.available && why_not) *why_not = "no usable CUDA GPU (sm_80 or newer) was found";
  return info.available;
}

GpuStatus query_gpu_status() {
  const cuda::DeviceInfo info = cuda::device_info();
  GpuStatus status;
  status.available = info.available;
  status.name = info.name;
  status.memory_total = info.memory_total;
  status.memory_used = info.memory_total > info.memory_free ? info.memory_total - info.memory_free : 0;
  return status;
}

namespace {

// The materialized baseline may use this share of the free memory (the rest is the allocator's and other apps').
constexpr double kMaterializedFreeShare = 0.85;

cuda::DeviceBuffer upload_half(const std::vector<float>& values, TimingDtype dtype) {
  std::vector<std::uint16_t> bits(values.size());
  for (std::size_t n = 0; n < values.size(); ++n)
    bits[n] = dtype == TimingDtype::BF16 ? f32_to_bf16(values[n]).bits : f32_to_f16(values[n]).bits;
  cuda::DeviceBuffer buffer(bits.size() * 2);
  buffer.upload(bits.data(), bits.size() * 2);
  return buffer;
}

TimedVariant summarize(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  TimedVariant variant;
  variant.measured = true;
  variant.median_ms = times[times.size() / 2];
  variant.spread_ms = times.back() - times.front();
  return variant;
}

// `what` names the caller in the error ("CUDA timing", "kernel tile map").
cuda::AttentionShape shape_of(const AttentionInputs& in, TimingDtype dtype, const char* what) {
  cuda::AttentionShape shape;
  shape.q_heads = in.q_heads;
  shape.kv_heads = in.kv_heads;
  shape.bias_heads = in.bias_heads;
  shape.q_len = shape.key_len = in.length;
  shape.head_dim = in.head_dim;
  shape.precision = dtype == TimingDtype::BF16 ? cuda::Precision::BF16 : cuda::Precision::F16;
  if (const std::string reason = cuda::unsupported_reason(shape); !reason.empty())
    fail("{}: this shape is not supported by the CUDA kernels: {}", what, reason);
  return shape;
}

// Device copies of one problem's inputs and the buffers the runner writes.
struct DeviceProblem {
  cuda::DeviceBuffer q, k, v, beta, death, out;
  DeviceProblem(const AttentionInputs& in, TimingDtype dtype)
      : q(upload_half(in.q, dtype)), k(upload_half(in.k, dtype)), v(upload_half(in.v, dtype)),
        beta(in.beta.size() * 4), death(in.beta.size() * 4), out(in.q.size() * 2) {
    beta.upload(in.beta.data(), in.beta.size() * 4);
  }
};

LayerTiming time_attention_cuda_once(const AttentionInputs& in, const TimingOptions& options,
                                     const std::atomic<bool>& cancel) {
  std::string why;
  if (!cuda_backend_available(&why)) fail("CUDA timing: {}", why);
  const cuda::AttentionShape shape = shape_of(in, options.dtype, "CUDA timing");
  const std::int64_t L = in.length, H = in.q_heads;
  DeviceProblem device(in, options.dtype);
  cuda::DmaRunner runner(shape, in.window, in.variant);
  const int warmup = options.cuda_warmup, repeats = options.cuda_repeats;
  auto check_cancel = [&] {
    if (cancel.load()) throw ForwardCancelled{};
  };

  LayerTiming timing;
  timing.device = fmt::format("{} (CUDA, {}, {} forward)", cuda::device_info().name, timing_dtype_name(options.dtype),
                              runner.forward_kernel_name());
  timing.on_gpu = true;
  timing.repeats = repeats;
  timing.length = L;
  timing.window = in.window;
  timing.head_dim = in.head_dim;
  timing.q_heads = H;
  check_cancel();
  timing.mask_build = summarize(cuda::time_ms(
      [&] { runner.build_mask(device.beta.as<float>(), device.death.as<std::int32_t>()); }, warmup, repeats));
  check_cancel();
  timing.dma = summarize(cuda::time_ms(
      [&] {
        runner.forward(device.q.get(), device.k.get(), device.v.get(), device.beta.as<float>(),
                       device.death.as<std::int32_t>(), device.out.get());
      },
      warmup, repeats));
  timing.dma.executed_pairs = static_cast<double>(runner.executed_pairs());
  // Useful pairs from the GPU's own death array (equal to the CPU's bit for bit: tests/gpu).
  std::vector<std::int32_t> death(in.beta.size());
  device.death.download(death.data(), death.size() * 4);
  double kept = 0;
  for (std::int64_t b = 0; b < in.bias_heads; ++b)
    kept += kept_pairs(std::span<const std::int32_t>(death.data() + b * L, static_cast<std::size_t>(L)), L);
  timing.dma.useful_pairs = kept * static_cast<double>(H / in.bias_heads);
  const double causal = causal_pairs(L, L) * static_cast<double>(H);
  timing.token_density = causal > 0 ? timing.dma.useful_pairs / causal : 0;
  if (!options.baselines) return timing;

  check_cancel();
  timing.dense = summarize(cuda::time_ms(
      [&] {
        runner.dense_forward(device.q.get(), device.k.get(), device.v.get(), device.beta.as<float>(), device.out.get());
      },
      warmup, repeats));
  timing.dense.executed_pairs = tiled_causal_pairs(L, L, runner.tile_rows(), kTileKeys) * static_cast<double>(H);
  timing.dense.useful_pairs = causal;

  check_cancel();
  const std::size_t needed = cuda::DmaRunner::materialized_workspace_bytes(shape);
  const std::size_t free_bytes = cuda::device_info().memory_free;
  if (static_cast<double>(needed) > kMaterializedFreeShare * static_cast<double>(free_bytes)) {
    timing.materialized.skipped_why =
        fmt::format("the L×L scores and probabilities need {:.1f} GiB, {:.1f} GiB of GPU memory are free",
                    static_cast<double>(needed) / (1 << 30), static_cast<double>(free_bytes) / (1 << 30));
  } else {
    timing.materialized = summarize(cuda::time_ms(
        [&] {
          runner.materialized_forward(device.q.get(), device.k.get(), device.v.get(), device.beta.as<float>(),
                                      device.out.get());
        },
        warmup, repeats));
    timing.materialized.executed_pairs = full_pairs(L, L) * static_cast<double>(H);
    timing.materialized.useful_pairs = causal;
  }
  return timing;
}

}  // namespace

LayerTiming time_attention_cuda(const AttentionInputs& in, const TimingOptions& options,
                                const std::atomic<bool>& cancel) {
  try {
    return time_attention_cuda_once(in, options, cancel);
  } catch (...) {
    // A failed cudaMalloc (out of memory at a large L) stays behind as the runtime's last error, which the next
    // launch check would report as its own: clear it, so that a sweep's next point starts clean. Sticky errors
    // (a kernel fault) cannot be cleared; they fail the next point too, with their own message.
    cudaGetLastError();
    throw;
  }
}

KernelTileMap instrument_layer_cuda(const PipelineResult& result, std::int64_t layer, TimingDtype dtype) {
  std::string why;
  if (!cuda_backend_available(&why)) fail("kernel tile map: {}", why);
  const AttentionInputs in = layer_attention_inputs(result, layer, result.forward.window);
  const cuda::AttentionShape shape = shape_of(in, dtype, "kernel tile map");
  DeviceProblem device(in, dtype);
  cuda::DmaRunner runner(shape, in.window, in.variant);
  runner.build_mask(device.beta.as<float>(), device.death.as<std::int32_t>());
  cuda::Instrumentation instrumentation;
  instrumentation.enabled = true;
  runner.forward(device.q.get(), device.k.get(), device.v.get(), device.beta.as<float>(),
                 device.death.as<std::int32_t>(), device.out.get(), &instrumentation);
  runner.synchronize();
  KernelTileMap map;
  map.generation = result.generation;
  map.layer = layer;
  map.device = fmt::format("{} (CUDA, {}, {} forward)", cuda::device_info().name, timing_dtype_name(dtype),
                           runner.forward_kernel_name());
  map.bias_heads = in.bias_heads;
  map.q_heads = in.q_heads;
  map.q_tiles = instrumentation.q_tiles;
  map.k_tiles = instrumentation.k_tiles;
  map.tile_rows = runner.tile_rows();
  map.tile_cols = kTileKeys;
  map.status = std::move(instrumentation.tile_status);
  map.cta_microseconds = std::move(instrumentation.cta_microseconds);
  map.keys_gathered = std::move(instrumentation.keys_gathered);
  return map;
}

#else

bool cuda_backend_available(std::string* why_not) {
  if (why_not) *why_not = "this build has no CUDA kernels (configured without a CUDA toolkit or with DMASCOPE_CUDA=OFF)";
  return false;
}

GpuStatus query_gpu_status() { return {}; }

LayerTiming time_attention_cuda(const AttentionInputs&, const TimingOptions&, const std::atomic<bool>&) {
  fail("CUDA timing: this build has no CUDA kernels");
}

KernelTileMap instrument_layer_cuda(const PipelineResult&, std::int64_t, TimingDtype) {
  fail("kernel tile map: this build has no CUDA kernels");
}

#endif

}  // namespace dmascope::engine
