// `dmascope-cli bench`'s rows, computed by the engine's timing service (layer_timing.h) like every other DMA number:
// one attention shape with seeded synthetic inputs (or a real model's β), timed on one backend — DMA (mask build
// included, one CUDA graph on the GPU) against the dense kernel and the materialized baseline — as the bench JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/attention/kernel_choice.h"
#include "engine/timing/layer_timing.h"

namespace dmascope::engine {

struct BenchSetting {
  Backend backend = Backend::Cpu;
  std::int64_t length = 4096, window = 256, q_heads = 2, kv_heads = 1, head_dim = 64, batch = 1;
  std::string bias = "random";  // random | clustered | model
  std::string bias_model;       // model folder when bias == "model"
  Precision precision = Precision::BF16;  // CUDA; the CPU computes in fp32
  int warmup = 1, repeats = 5;
  std::uint64_t seed = 0;
  KernelChoice kernel;  // CUDA: the kernels DmaRunner launches (bench --kernel SPEC, parse_kernel_choice)
  bool keep_dma_output = false;  // bench --save-output: the row's LayerTiming carries the DMA output
  bool counters = false;         // bench --counters: also time the DMA with the forward's counters on (CUDA)
};

std::vector<float> bench_bias(const BenchSetting& setting);  // [B·Hkv, L]
// What --bias model feeds the model: "toy task examples" or "random tokens".
std::string bias_model_tokens(const std::string& model_dir);
// The row's inputs: q/k/v ~ N(0, 1) seeded from setting.seed, β from bench_bias (one bias head per kv head).
AttentionInputs bench_inputs(const BenchSetting& setting);
// How bench times: exactly warmup + repeats runs (no time budget), 64×64 tiles on the CPU, plain causal baselines,
// the materialized one up to 4 GiB of workspace and 3 repeats, and the CUDA breakdown of the DMA time.
TimingOptions bench_timing_options(const BenchSetting& setting);

// One row. cached_dense: the dense time of an earlier row of the same shape (the dense kernel ignores w and β), or
// null to time dense and materialized here.
LayerTiming run_bench(const BenchSetting& setting, const TimedVariant* cached_dense);
nlohmann::json bench_json(const BenchSetting& setting, const LayerTiming& timing);

}  // namespace dmascope::engine
