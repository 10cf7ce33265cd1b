// Timing of attention for the Timing view: DMA (the mask build, then the masked kernel) against dense attention (the
// same kernel family without a mask) and the materialized baseline (QKᵀ → softmax → PV with the L×L scores in
// memory). nvbench-style: warm-up, repeats, median and spread. Everything here runs on the pipeline's worker thread;
// cancel is checked between timed variants and between sweep points. The measuring is the backends' (time_attention
// in core/compute/compute_backend.h):
//   CPU:  attention_tiled (fp32, the chosen tile size); materialized = attention_reference writing [Hq, L, L] fp32
//         probabilities, where they fit in kCpuMaterializedMaxBytes.
//   CUDA: DmaRunner in bf16 or fp16, CUDA events; DMA time = DmaRunner::mask_and_forward (one CUDA graph);
//         materialized = cuBLAS, where its workspace fits in the free GPU memory.
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
#include "core/compute/compute_backend.h"
#include "core/mask/bias_patterns.h"

namespace dmascope::engine {

// The captured q/k/v/β of one layer of a result, with DMA budget `window` (the result's own w for a plain timing).
AttentionInputs layer_attention_inputs(const PipelineResult& result, std::int64_t layer, std::int64_t window);
// The same from one layer's captures (q_rope, k_rope, v, dyn_bias) of any forward result (the CLI's forward --map).
AttentionInputs capture_attention_inputs(const LayerCapture& capture, const DogeConfig& config,
                                         std::int64_t bias_heads, std::int64_t window, MaskVariant variant);
// Synthetic inputs with a model's head shape (and batch): q/k/v ~ N(0, 1), β from core/bias_patterns.h.
AttentionInputs synthetic_attention_inputs(const AttentionInputs& head_shape, std::int64_t length, BiasPattern pattern,
                                           std::uint64_t seed);

// How to time (core/compute/attention_inputs.h) and on which backend.
struct TimingOptions : AttentionTimingOptions {
  Backend backend = Backend::Cpu;
};
TimingOptions timing_options_for(const PipelineSettings& settings);

// The timing service: every DMA number the app, its sweeps and `dmascope-cli bench` show comes from here, i.e. from
// the options' backend's time_attention (engine/backend/backend_factory.h).
LayerTiming time_attention(const AttentionInputs& inputs, const TimingOptions& options, const std::atomic<bool>& cancel);
// time_attention on the CPU or the CUDA backend whatever options.backend says (tests).
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

// The CUDA backend's supported? answer: true when this build has the kernels and a GPU is present; else false with
// the backend's reason in why_not.
bool cuda_backend_available(std::string* why_not);
// The CUDA kernel's instrumented forward for one layer: a separate, untimed run (the backend's instrument_attention).
KernelTileMap instrument_layer_cuda(const PipelineResult& result, std::int64_t layer, Precision precision);

// The status bar's GPU line: the CUDA backend's status(); available == false without a GPU or CUDA in this build.
// Queries the driver: call it at most about once a second.
using GpuStatus = DeviceStatus;
GpuStatus query_gpu_status();

}  // namespace dmascope::engine
