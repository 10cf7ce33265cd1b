// The CUDA backend. Timing: inputs are rounded to the chosen precision on the host and uploaded once; the timed work is
// the DmaRunner calls alone, with CUDA events. DMA time is DmaRunner::mask_and_forward, the mask build and the forward
// replayed as one CUDA graph: what `dmascope-cli bench` reports as dma_ms and the Timing view as "DMA incl. mask".
#include "kernels/cuda_backend.h"

#include "core/attention/tile_sizes.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/compute/timing_math.h"
#include "core/formats/tensor.h"
#include "core/mask/bias_patterns.h"
#include "kernels/dma_cuda.h"
#include "kernels/doge_forward_bf16.h"
#include "kernels/lab_metrics_cuda.h"
#include "kernels/doge_forward_cuda.h"
#include "kernels/capture_convert.cuh"
#include "kernels/cuda_check.h"
#include "kernels/cuda_captures.h"

namespace dmascope::cuda {

namespace {

// The materialized baseline may use this share of the free memory (the rest is the allocator's and other apps').
constexpr double kMaterializedFreeShare = 0.85;

DeviceBuffer upload_half(const std::vector<float>& values, Precision precision) {
  std::vector<std::uint16_t> bits(values.size());
  // In parallel: a 128K-token, 32-head q is half a billion values.
  parallel_for(static_cast<std::int64_t>(values.size()), 1 << 16, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t n = begin; n < end; ++n) {
      const auto i = static_cast<std::size_t>(n);
      bits[i] = precision == Precision::BF16 ? f32_to_bf16(values[i]).bits : f32_to_f16(values[i]).bits;
    }
  });
  DeviceBuffer buffer(bits.size() * 2);
  buffer.upload(bits.data(), bits.size() * 2);
  return buffer;
}

// `what` names the caller in the error ("CUDA timing", "kernel tile map").
AttentionShape shape_of(const AttentionInputs& in, Precision precision, const char* what) {
  AttentionShape shape;
  shape.batch = in.batch;
  shape.q_heads = in.q_heads;
  shape.kv_heads = in.kv_heads;
  shape.bias_heads = in.bias_heads;
  shape.q_len = shape.key_len = in.length;
  shape.head_dim = in.head_dim;
  shape.precision = precision;
  if (const std::string reason = unsupported_reason(shape); !reason.empty())
    fail("{}: this shape is not supported by the CUDA kernels: {}", what, reason);
  if (in.on_device()) return shape;  // sizes: the captures' own (checked where they are read)
  const auto expected = static_cast<std::size_t>(in.batch * in.q_heads * in.length * in.head_dim);
  if (in.q.size() != expected || in.beta.size() != static_cast<std::size_t>(in.batch * in.bias_heads * in.length))
    fail("{}: the inputs' sizes do not match their shape (B {}, Hq {}, Hb {}, L {}, d {})", what, in.batch, in.q_heads,
         in.bias_heads, in.length, in.head_dim);
  return shape;
}

// Device copies of one problem's inputs and the buffers the runner writes.
struct DeviceProblem {
  DeviceBuffer q, k, v, beta, death, out;
  // Host inputs, rounded to the precision on the host and uploaded.
  DeviceProblem(const AttentionInputs& in, Precision precision)
      : q(upload_half(in.q, precision)), k(upload_half(in.k, precision)), v(upload_half(in.v, precision)),
        beta(in.beta.size() * 4), death(in.beta.size() * 4), out(in.q.size() * 2) {
    beta.upload(in.beta.data(), in.beta.size() * 4);
  }
  // A CUDA forward's layer where it lies, converted to the precision on the device: nothing crosses to the host.
  DeviceProblem(const CudaCaptures& kept, const AttentionInputs& in, Precision precision)
      : q(half_bytes(in, in.q_heads)), k(half_bytes(in, in.kv_heads)), v(half_bytes(in, in.kv_heads)),
        beta(static_cast<std::size_t>(in.bias_heads * in.length) * 4),
        death(static_cast<std::size_t>(in.bias_heads * in.length) * 4), out(half_bytes(in, in.q_heads)) {
    const CaptureInputsShape& s = kept.inputs_shape();
    if (in.batch != 1 || s.q_heads != in.q_heads || s.kv_heads != in.kv_heads || s.head_dim != in.head_dim ||
        kept.bias_heads() != in.bias_heads || kept.length() != in.length)
      fail("CUDA timing: layer {} of the device captures ({}/{} heads, {} bias heads, d {}, L {}) is not the problem "
           "asked for ({}/{}, {}, d {}, L {}, batch {})",
           in.device_layer, s.q_heads, s.kv_heads, kept.bias_heads(), s.head_dim, kept.length(), in.q_heads,
           in.kv_heads, in.bias_heads, in.head_dim, in.length, in.batch);
    const auto type = s.element_bytes == 2 ? detail::CaptureType::BF16 : detail::CaptureType::F32;
    const bool f16 = precision == Precision::F16;
    const long long per_head = in.length * in.head_dim;
    detail::launch_convert_to_half(kept.q_data(in.device_layer), type, per_head * in.q_heads, f16, q.get(), nullptr);
    detail::launch_convert_to_half(kept.k_data(in.device_layer), type, per_head * in.kv_heads, f16, k.get(), nullptr);
    detail::launch_convert_to_half(kept.v_data(in.device_layer), type, per_head * in.kv_heads, f16, v.get(), nullptr);
    DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(beta.get(), kept.beta_data(in.device_layer), beta.bytes(),
                                        cudaMemcpyDeviceToDevice, nullptr));
    DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(nullptr));
  }

 private:
  static std::size_t half_bytes(const AttentionInputs& in, std::int64_t heads) {
    return static_cast<std::size_t>(in.batch * heads * in.length * in.head_dim) * 2;
  }
};

// The device problem of `in`: a CUDA forward's layer converted where it lies, or host inputs uploaded (other device
// captures are downloaded first).
std::unique_ptr<DeviceProblem> device_problem(const AttentionInputs& in, Precision precision) {
  if (in.on_device())
    if (const auto* kept = dynamic_cast<const CudaCaptures*>(in.device.get()); kept && kept->keeps_inputs())
      return std::make_unique<DeviceProblem>(*kept, in, precision);
  if (in.on_device()) return std::make_unique<DeviceProblem>(host_attention_inputs(in), precision);
  return std::make_unique<DeviceProblem>(in, precision);
}

std::string device_label(const DeviceInfo& info, Precision precision, const DmaRunner& runner) {
  return fmt::format("{} (CUDA, {}, {} forward)", info.name, precision_name(precision), runner.forward_kernel_name());
}

class CudaModelForward final : public ModelForward {
 public:
  explicit CudaModelForward(const DogeModel& model)
      : model_(model), layers_(model.config.num_hidden_layers), bias_heads_(model.weights.bias_heads) {
    if (auto reason = gpu_forward_unsupported_reason(model); !reason.empty()) fail("GPU forward: {}", reason);
  }
  BackendForward run(std::span<const std::int32_t> ids, const ForwardOptions& options,
                     const ForwardRequest& request) override {
    GpuForwardOutputs outputs;
    outputs.attention_inputs = request.attention_inputs;
    outputs.tile_maps_on_gpu = request.tile_maps_on_device;
    outputs.logits = request.logits == dmascope::LogitRows::All    ? LogitRows::All
                     : request.logits == dmascope::LogitRows::Last ? LogitRows::Last
                                                                   : LogitRows::None;
    if (request.keep_on_device) {
      std::optional<CaptureInputsShape> inputs;
      if (request.keep_inputs_on_device)
        inputs = CaptureInputsShape{model_.config.num_attention_heads, model_.config.num_key_value_heads,
                                    model_.config.head_dim, request.precision == Precision::BF16 ? 2 : 4};
      outputs.captures = std::make_shared<CudaCaptures>(layers_, bias_heads_, static_cast<std::int64_t>(ids.size()),
                                                        inputs);
    }
    GpuForwardResult gpu;
    if (request.precision == Precision::BF16) {
      if (!bf16_) bf16_ = std::make_unique<DogeForwardBf16>(model_);  // the bf16 weights, converted once
      gpu = bf16_->run(ids, options, outputs);
    } else if (request.precision == Precision::F32) {
      if (!fp32_) fp32_ = std::make_unique<DogeForwardCuda>(model_);
      gpu = fp32_->run(ids, options, outputs);
    } else {
      fail("GPU forward: precision {} is not implemented for the model forward (fp32 or bf16)",
           precision_name(request.precision));
    }
    BackendForward run;
    run.forward = std::move(gpu.forward);
    run.device_ms = gpu.gpu_ms;
    run.download_ms = gpu.download_ms;
    run.tile_map_ms = gpu.tile_map_ms;
    run.captures = std::move(outputs.captures);
    return run;
  }
  std::size_t weight_bytes() const override {
    return (fp32_ ? fp32_->weight_bytes() : 0) + (bf16_ ? bf16_->weight_bytes() : 0);
  }

 private:
  const DogeModel& model_;  // outlives this (ComputeBackend::load_forward)
  std::int64_t layers_, bias_heads_;
  // Each precision's weights are uploaded on its first run, and stay.
  std::unique_ptr<DogeForwardCuda> fp32_;
  std::unique_ptr<DogeForwardBf16> bf16_;
};

class CudaBackend final : public ComputeBackend {
 public:
  Backend kind() const override { return Backend::Cuda; }
  std::string unsupported_reason() const override {
    return device_info().available ? std::string() : "no usable CUDA GPU (sm_80 or newer) was found";
  }
  DeviceStatus status() const override {
    const DeviceInfo info = device_info();
    DeviceStatus status;
    status.available = info.available;
    status.name = info.name;
    status.multiprocessors = info.multiprocessors;
    status.compute_capability = info.compute_capability;
    status.memory_total = info.memory_total;
    status.memory_free = info.memory_free;
    status.memory_used = info.memory_total > info.memory_free ? info.memory_total - info.memory_free : 0;
    return status;
  }
  std::string forward_unsupported_reason(const DogeModel& model) const override {
    if (std::string why = unsupported_reason(); !why.empty()) return why;
    return gpu_forward_unsupported_reason(model);
  }
  std::unique_ptr<ModelForward> load_forward(const DogeModel& model) const override {
    return std::make_unique<CudaModelForward>(model);
  }
  LayerTiming time_attention(const AttentionInputs& inputs, const AttentionTimingOptions& options,
                             const std::atomic<bool>& cancel) const override {
    try {
      return time_once(inputs, options, cancel);
    } catch (...) {
      // A failed cudaMalloc (out of memory at a large L) stays behind as the runtime's last error, which the next
      // launch check would report as its own: clear it, so that a sweep's next point starts clean. Sticky errors
      // (a kernel fault) cannot be cleared; they fail the next point too, with their own message.
      cudaGetLastError();
      throw;
    }
  }
  KernelTileMap instrument_attention(const AttentionInputs& inputs, Precision precision) const override;
  std::vector<StrategyMetrics> lab_head_metrics(const LabHead& head, std::span<const Strategy> strategies,
                                                const LabMetricOptions& options) const override {
    if (const std::string why = unsupported_reason(); !why.empty()) fail("mask lab: {}", why);
    // One workspace, made on first use and reused across heads (its buffers grow to the largest head): the lab
    // calls this once per (layer, head).
    const std::lock_guard lock(lab_mutex_);
    if (lab_ == nullptr) lab_ = std::make_unique<LabMetricsCuda>();
    return lab_->head_metrics(head, strategies, options);
  }

 private:
  mutable std::mutex lab_mutex_;
  mutable std::unique_ptr<LabMetricsCuda> lab_;
  LayerTiming time_once(const AttentionInputs& inputs, const AttentionTimingOptions& options,
                        const std::atomic<bool>& cancel) const;
};

LayerTiming CudaBackend::time_once(const AttentionInputs& in, const AttentionTimingOptions& options,
                                   const std::atomic<bool>& cancel) const {
  if (const std::string why = unsupported_reason(); !why.empty()) fail("CUDA timing: {}", why);
  const AttentionShape shape = shape_of(in, options.precision, "CUDA timing");
  const std::int64_t B = in.batch, L = in.length, H = in.q_heads;
  const std::unique_ptr<DeviceProblem> problem = device_problem(in, options.precision);
  DeviceProblem& device = *problem;
  DmaRunner runner(shape, in.window, in.variant, options.kernels);
  const int warmup = options.warmup, repeats = options.repeats;
  auto check_cancel = [&] {
    if (cancel.load()) throw ForwardCancelled{};
  };
  auto timed = [&](const std::function<void()>& work) {
    check_cancel();
    return summarize_times(time_ms(work, warmup, repeats));
  };
  const float* beta = device.beta.as<float>();
  std::int32_t* death = device.death.as<std::int32_t>();

  const DeviceInfo info = device_info();
  LayerTiming timing;
  timing.device = device_label(info, options.precision, runner);
  timing.device_name = info.name;
  timing.forward_kernel = runner.forward_kernel_name();
  timing.on_gpu = true;
  timing.repeats = repeats;
  timing.length = L;
  timing.window = in.window;
  timing.head_dim = in.head_dim;
  timing.q_heads = H;
  timing.mask_build = timed([&] { runner.build_mask(beta, death); });
  if (options.detail) timing.mask_and_lists = timed([&] { runner.build_mask_and_gather_lists(beta, death); });
  timing.dma = timed([&] {
    runner.forward(device.q.get(), device.k.get(), device.v.get(), beta, death, device.out.get());
  });
  if (options.detail)
    timing.dma_launched = timed([&] {
      runner.build_mask(beta, death);
      runner.forward(device.q.get(), device.k.get(), device.v.get(), beta, death, device.out.get());
    });
  auto dma_total = [&] {
    runner.mask_and_forward(device.q.get(), device.k.get(), device.v.get(), beta, death, device.out.get());
  };
  if (options.counters) {
    // The same graph with the forward's counters on, replayed in turn with the plain one, so that the GPU's clock
    // and temperature drift over a few hundred replays reach both alike (one after the other, the second run of
    // 2.4 ms replays would always be the warmer one).
    check_cancel();
    const auto [plain, counted] = time_ms_alternating(dma_total, [&] {
      runner.mask_and_forward(device.q.get(), device.k.get(), device.v.get(), beta, death, device.out.get(), true);
    }, warmup, repeats);
    timing.dma_total = summarize_times(plain);
    timing.dma_total_counted = summarize_times(counted);
    timing.kernel_counters = runner.counters();
  } else {
    timing.dma_total = timed(dma_total);
  }
  if (options.keep_dma_output) {  // the graph-replayed DMA's result, before the baselines reuse `out`
    runner.synchronize();
    std::vector<std::uint16_t> bits(static_cast<std::size_t>(B * H * L * in.head_dim));
    device.out.download(bits.data(), bits.size() * 2);
    timing.dma_output.resize(bits.size());
    for (std::size_t n = 0; n < bits.size(); ++n)
      timing.dma_output[n] = options.precision == Precision::BF16 ? bf16_to_f32({bits[n]}) : f16_to_f32({bits[n]});
  }
  timing.dma.executed_pairs = static_cast<double>(runner.executed_pairs()) * static_cast<double>(B);
  // Useful pairs and densities from the GPU's own death array (equal to the CPU's bit for bit: tests/gpu).
  runner.synchronize();
  std::vector<std::int32_t> death_host(static_cast<std::size_t>(B * in.bias_heads * L));
  device.death.download(death_host.data(), death_host.size() * 4);
  double kept = 0;
  for (std::int64_t seg = 0; seg < B * in.bias_heads; ++seg)
    kept += kept_pairs(std::span<const std::int32_t>(death_host.data() + seg * L, static_cast<std::size_t>(L)), L);
  timing.dma.useful_pairs = kept * static_cast<double>(H / in.bias_heads);
  for (TimedVariant* total : {&timing.dma_total, &timing.dma_launched}) {
    total->executed_pairs = timing.dma.executed_pairs;
    total->useful_pairs = timing.dma.useful_pairs;
  }
  const double causal = causal_pairs(L, L) * static_cast<double>(B * H);
  timing.token_density = causal > 0 ? timing.dma.useful_pairs / causal : 0;
  timing.tile_density = mask_tile_density(death_host, B * in.bias_heads, L, {runner.tile_rows(), kTileKeys});
  if (!options.baselines) return timing;

  const float* baseline_beta = options.baselines_with_bias ? beta : nullptr;
  timing.dense = timed([&] {
    runner.dense_forward(device.q.get(), device.k.get(), device.v.get(), baseline_beta, device.out.get());
  });
  timing.dense.executed_pairs = tiled_causal_pairs(L, L, runner.tile_rows(), kTileKeys) * static_cast<double>(B * H);
  timing.dense.useful_pairs = causal;

  check_cancel();
  const std::size_t needed = DmaRunner::materialized_workspace_bytes(shape);
  const std::size_t free_bytes = device_info().memory_free;
  if (needed > options.cuda_materialized_max_bytes) {
    timing.materialized.skipped_why =
        fmt::format("the L×L scores and probabilities need {:.1f} GiB, more than the {:.1f} GiB allowed",
                    static_cast<double>(needed) / (1 << 30),
                    static_cast<double>(options.cuda_materialized_max_bytes) / (1 << 30));
  } else if (static_cast<double>(needed) > kMaterializedFreeShare * static_cast<double>(free_bytes)) {
    timing.materialized.skipped_why =
        fmt::format("the L×L scores and probabilities need {:.1f} GiB, {:.1f} GiB of GPU memory are free",
                    static_cast<double>(needed) / (1 << 30), static_cast<double>(free_bytes) / (1 << 30));
  } else {
    // Capped (bench: the GEMMs take long at large L), it gets one warm-up run.
    const int materialized_repeats = std::min(repeats, options.materialized_max_repeats);
    const int materialized_warmup = materialized_repeats < repeats ? std::min(warmup, 1) : warmup;
    check_cancel();
    timing.materialized = summarize_times(time_ms(
        [&] {
          runner.materialized_forward(device.q.get(), device.k.get(), device.v.get(), baseline_beta, device.out.get());
        },
        materialized_warmup, materialized_repeats));
    timing.materialized.executed_pairs = full_pairs(L, L) * static_cast<double>(B * H);
    timing.materialized.useful_pairs = causal;
  }
  return timing;
}

KernelTileMap CudaBackend::instrument_attention(const AttentionInputs& in, Precision precision) const {
  if (const std::string why = unsupported_reason(); !why.empty()) fail("kernel tile map: {}", why);
  const AttentionShape shape = shape_of(in, precision, "kernel tile map");
  const std::unique_ptr<DeviceProblem> problem = device_problem(in, precision);
  DeviceProblem& device = *problem;
  DmaRunner runner(shape, in.window, in.variant);
  runner.build_mask(device.beta.as<float>(), device.death.as<std::int32_t>());
  Instrumentation instrumentation;
  instrumentation.enabled = true;
  runner.forward(device.q.get(), device.k.get(), device.v.get(), device.beta.as<float>(),
                 device.death.as<std::int32_t>(), device.out.get(), &instrumentation);
  runner.synchronize();
  KernelTileMap map;
  map.device = device_label(device_info(), precision, runner);
  map.bias_heads = in.bias_heads;
  map.q_heads = in.q_heads;
  map.q_tiles = instrumentation.q_tiles;
  map.k_tiles = instrumentation.k_tiles;
  map.tile_rows = runner.tile_rows();
  map.tile_cols = kTileKeys;
  map.status = std::move(instrumentation.tile_status);
  map.cta_microseconds = std::move(instrumentation.cta_microseconds);
  map.keys_gathered = std::move(instrumentation.keys_gathered);
  map.counters = std::move(instrumentation.counters);
  return map;
}

}  // namespace

std::unique_ptr<ComputeBackend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

}  // namespace dmascope::cuda
