// The Timing view's service: one layer of a result, and sweeps over L or w, measured by the settings' backend.
#include <fmt/format.h>

#include <new>

#include "engine/timing/layer_timing.h"
#include "engine/backend/backend_factory.h"
#include "engine/timing/sweep_points.h"
#include "core/attention/tile_sizes.h"
#include "core/base/error.h"

namespace dmascope::engine {

LayerTiming time_attention(const AttentionInputs& inputs, const TimingOptions& options,
                           const std::atomic<bool>& cancel) {
  return compute_backend(options.backend).time_attention(inputs, options, cancel);
}

LayerTiming time_attention_cpu(const AttentionInputs& inputs, const TimingOptions& options,
                               const std::atomic<bool>& cancel) {
  return compute_backend(Backend::Cpu).time_attention(inputs, options, cancel);
}

LayerTiming time_attention_cuda(const AttentionInputs& inputs, const TimingOptions& options,
                                const std::atomic<bool>& cancel) {
  return compute_backend(Backend::Cuda).time_attention(inputs, options, cancel);
}

bool cuda_backend_available(std::string* why_not) {
  const std::string reason = compute_backend(Backend::Cuda).unsupported_reason();
  if (why_not) *why_not = reason;
  return reason.empty();
}

GpuStatus query_gpu_status() { return compute_backend(Backend::Cuda).status(); }

KernelTileMap instrument_layer_cuda(const PipelineResult& result, std::int64_t layer, Precision precision) {
  KernelTileMap map = compute_backend(Backend::Cuda)
                          .instrument_attention(layer_attention_inputs(result, layer, result.forward.window), precision);
  map.generation = result.generation;
  map.layer = layer;
  return map;
}

LayerTiming time_layer(const PipelineResult& result, std::int64_t layer, const TimingOptions& options,
                       const std::atomic<bool>& cancel) {
  LayerTiming timing = time_attention(layer_attention_inputs(result, layer, result.forward.window), options, cancel);
  timing.generation = result.generation;
  timing.layer = layer;
  return timing;
}

TimingSweep run_timing_sweep(const PipelineResult& result, SweepKind kind, std::int64_t layer,
                             const TimingOptions& options, const std::vector<std::int64_t>& points,
                             const SweepProgress& progress, const std::atomic<bool>& cancel,
                             const AttentionTimer& timer) {
  if (points.empty()) fail("timing sweep over {}: no points", sweep_kind_name(kind));
  const AttentionTimer time_problem = timer ? timer : AttentionTimer(&time_attention);
  TimingSweep sweep;
  sweep.kind = kind;
  sweep.generation = result.generation;
  sweep.layer = layer;
  sweep.points = points;
  const AttentionInputs layer_inputs = layer_attention_inputs(result, layer, result.forward.window);
  const std::string dtype = options.backend == Backend::Cuda ? std::string(precision_name(options.precision)) : "fp32";
  if (kind == SweepKind::Length) {
    sweep.what_timed = fmt::format(
        "synthetic inputs, not the model's activations: q, k, v ~ N(0, 1) and a random β (exp N(0, 1) per key) with "
        "{}'s head shape ({} query heads, {} kv heads, {} bias heads, d {}), w {}, {}, {}, L = {}…{}",
        result.model->name(), layer_inputs.q_heads, layer_inputs.kv_heads, layer_inputs.bias_heads,
        layer_inputs.head_dim, layer_inputs.window, mask_variant_name(layer_inputs.variant), dtype,
        token_count_label(points.front()), token_count_label(points.back()));
  } else {
    sweep.what_timed = fmt::format(
        "layer {}'s captured q, k, v and β (L {}) with w varied, {}, {}; dense and materialized do not depend on w "
        "and are timed once",
        layer, result.length(), mask_variant_name(layer_inputs.variant), dtype);
  }
  // The w sweep's baselines, from its first point that succeeds (dense and materialized ignore w).
  bool have_baselines = false;
  TimedVariant dense, materialized;
  auto time_point = [&](std::size_t n) {
    if (cancel.load()) throw ForwardCancelled{};
    TimingOptions point_options = options;
    if (kind == SweepKind::Length) {
      const AttentionInputs inputs =
          synthetic_attention_inputs(layer_inputs, points[n], BiasPattern::Random, static_cast<std::uint64_t>(points[n]));
      return time_problem(inputs, point_options, cancel);
    }
    AttentionInputs inputs = layer_inputs;
    inputs.window = points[n];
    point_options.baselines = !have_baselines;
    LayerTiming timing = time_problem(inputs, point_options, cancel);
    if (!have_baselines) {
      dense = timing.dense;
      materialized = timing.materialized;
      have_baselines = true;
    } else {
      timing.dense = dense;
      timing.materialized = materialized;
    }
    timing.layer = layer;
    return timing;
  };
  // What a failed point still says: which problem it was.
  auto failed_point = [&](std::size_t n, std::string why) {
    LayerTiming timing;
    timing.layer = layer;
    timing.on_gpu = options.backend == Backend::Cuda;
    timing.head_dim = layer_inputs.head_dim;
    timing.q_heads = layer_inputs.q_heads;
    timing.length = kind == SweepKind::Length ? points[n] : layer_inputs.length;
    timing.window = kind == SweepKind::Window ? points[n] : layer_inputs.window;
    timing.failed_why = why.empty() ? std::string("failed without a message") : std::move(why);
    return timing;
  };
  for (std::size_t n = 0; n < points.size(); ++n) {
    LayerTiming timing;
    try {
      timing = time_point(n);
    } catch (const ForwardCancelled&) {
      // The points done so far are kept (a long sweep is worth its first points); none done: a plain cancel.
      if (sweep.timings.empty()) throw;
      sweep.cancelled = true;
      break;
    } catch (const std::bad_alloc&) {
      timing = failed_point(n, "out of host memory (std::bad_alloc)");
    } catch (const std::exception& error) {
      timing = failed_point(n, error.what());
    }
    timing.generation = result.generation;
    if (sweep.device.empty()) sweep.device = timing.device;
    sweep.timings.push_back(std::move(timing));
    if (progress) progress(static_cast<std::int64_t>(n + 1), static_cast<std::int64_t>(points.size()));
  }
  for (LayerTiming& timing : sweep.timings)  // a failed point was attempted on the sweep's device
    if (timing.failed() && timing.device.empty()) timing.device = sweep.device;
  return sweep;
}

}  // namespace dmascope::engine
