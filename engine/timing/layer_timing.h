// Timing of attention for the Timing view: DMA (the mask build, then the masked kernel) against dense attention (the
// same kernel family without a mask) and the materialized baseline (QKᵀ → softmax → PV with the L×L scores in
// memory). nvbench-style: warm-up, repeats, median and spread. Everything here runs on the pipeline's worker thread;
// cancel is checked between timed variants and between sweep points.
//   CPU:  attention_tiled (fp32, the chosen tile size); materialized = attention_reference writing [Hq, L, L] fp32
//         probabilities, where they fit in kCpuMaterializedMaxBytes.
//   CUDA: DmaRunner (kernels/dma_cuda.h) in bf16 or fp16, CUDA events; materialized = cuBLAS, where its workspace
//         fits in the free GPU memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/pipeline/pipeline_result.h"
#include "engine/timing/timing_results.h"
#include "core/attention/attention_cpu.h"
#include "core/mask/bias_patterns.h"

namespace dmascope::engine {

// One attention problem's inputs on the host, fp32, in the kernels' layouts: q [Hq, L, d], k/v [Hkv, L, d], β [Hb, L].
struct AttentionInputs {
  std::int64_t q_heads = 1, kv_heads = 1, bias_heads = 1, length = 0, head_dim = 64, window = 1;
  MaskVariant variant = MaskVariant::PerRowTopK;
  std::vector<float> q, k, v, beta;
};

// The captured q/k/v/β of one layer of a result, with DMA budget `window` (the result's own w for a plain timing).
AttentionInputs layer_attention_inputs(const PipelineResult& result, std::int64_t layer, std::int64_t window);
// Synthetic inputs with a model's head shape: q/k/v ~ N(0, 1), β from core/bias_patterns.h.
AttentionInputs synthetic_attention_inputs(const AttentionInputs& head_shape, std::int64_t length, BiasPattern pattern,
                                           std::uint64_t seed);

inline constexpr std::size_t kCpuMaterializedMaxBytes = std::size_t{1} << 30;

struct TimingOptions {
  Backend backend = Backend::Cpu;
  TimingDtype dtype = TimingDtype::BF16;  // CUDA only; the CPU is fp32
  int cuda_warmup = 3, cuda_repeats = 20;
  double cpu_budget_ms = 2000;  // per variant after the warm-up
  int cpu_max_repeats = 9;
  TileShape cpu_tiles{16, 16};
  bool baselines = true;        // time dense and materialized too (a w sweep times them once: they ignore w)
  std::size_t cpu_materialized_max_bytes = kCpuMaterializedMaxBytes;
};
TimingOptions timing_options_for(const PipelineSettings& settings);

LayerTiming time_attention_cpu(const AttentionInputs& inputs, const TimingOptions& options,
                               const std::atomic<bool>& cancel);
LayerTiming time_attention_cuda(const AttentionInputs& inputs, const TimingOptions& options,
                                const std::atomic<bool>& cancel);

// One layer of a result on the settings' backend, with the tile density of the tiles that backend runs.
LayerTiming time_layer(const PipelineResult& result, std::int64_t layer, const TimingOptions& options,
                       const std::atomic<bool>& cancel);

// Times one attention problem: time_attention_cpu or time_attention_cuda (tests pass a stand-in that fails on cue).
using AttentionTimer =
    std::function<LayerTiming(const AttentionInputs&, const TimingOptions&, const std::atomic<bool>&)>;

// A sweep over L (synthetic inputs with the model's head shape, the result's w, random β) or over w (the layer's
// captured q/k/v/β). `progress(done, total)` is called after each point. A point whose timing throws (CUDA out of
// memory, a length the backend refuses) is recorded as failed with the error's text and the sweep goes on; a w sweep
// times its baselines at the first point that succeeds. A cancel after some points returns those
// (TimingSweep::cancelled); before the first one it throws ForwardCancelled. `timer` empty: the options' backend.
using SweepProgress = std::function<void(std::int64_t done, std::int64_t total)>;
TimingSweep run_timing_sweep(const PipelineResult& result, SweepKind kind, std::int64_t layer,
                             const TimingOptions& options, const std::vector<std::int64_t>& points,
                             const SweepProgress& progress, const std::atomic<bool>& cancel,
                             const AttentionTimer& timer = {});

// The CUDA backend (kernels/dma_cuda.h) when this build has it and a GPU is present.
bool cuda_backend_available(std::string* why_not);
// DmaRunner::forward with Instrumentation on, for one layer: a separate, untimed run.
KernelTileMap instrument_layer_cuda(const PipelineResult& result, std::int64_t layer, TimingDtype dtype);

// The status bar's GPU line; available == false without a GPU or CUDA in this build. Queries the driver: call it at
// most about once a second.
struct GpuStatus {
  bool available = false;
  std::string name;
  std::size_t memory_used = 0, memory_total = 0;
};
GpuStatus query_gpu_status();

}  // namespace dmascope::engine
