// `dmascope-cli bench`: one attention shape timed on one backend — DMA (mask build included) against our dense kernel
// (and, on CUDA, the materialized cuBLAS baseline) — with FLOP rates and densities.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/attention/kernel_choice.h"

namespace dmascope::cli {

struct BenchSetting {
  std::string backend = "cpu";  // cpu | cuda
  std::int64_t length = 4096, window = 256, q_heads = 2, kv_heads = 1, head_dim = 64, batch = 1;
  std::string bias = "random";  // random | clustered | model
  std::string bias_model;       // model folder when bias == "model"
  std::string precision = "bf16";
  int warmup = 1, repeats = 5;
  std::uint64_t seed = 0;
  KernelChoice kernel;  // cuda: the kernels DmaRunner launches (bench --kernel SPEC, parse_kernel_choice)
};

struct BenchResult {
  std::string device;
  std::string forward_kernel;  // CUDA: "wgmma" or "mma.sync" (DmaRunner::forward_kernel_name); CPU: "tiled CPU"
  // Medians; -1 = not run. mask_build_ms times the mask state alone (death indices from β, as launched, no gather
  // lists); dma_ms includes the mask build, the gather lists and the forward.
  double mask_build_ms = 0, dma_ms = 0, dense_ms = 0, materialized_ms = -1;
  double mask_and_gather_ms = -1;  // CUDA: mask build + the forward's gather lists (what precedes the attention kernel)
  double dma_launched_ms = -1;  // CUDA: the DMA pipeline as separate launches (dma_ms replays it as one graph)
  double dma_spread_ms = 0, dense_spread_ms = 0;                            // max − min over the repeats
  double token_density = 0, tile_density = 0;
  double useful_pairs = 0, executed_pairs = 0, dense_pairs = 0;             // (query, key) pairs, all heads
};

std::vector<float> bench_bias(const BenchSetting& setting);  // [B·Hkv, L]
std::string bias_model_tokens(const std::string& model_dir);  // what --bias model feeds the model: "toy task examples" or "random tokens"
BenchResult run_bench_cpu(const BenchSetting& setting);
BenchResult run_bench_cuda(const BenchSetting& setting, double cached_dense_ms);  // cached < 0: time dense too
bool cuda_backend_built();

// Token and 64×64-tile densities and the pair counts of a built mask (death [B·Hkv, L] on the host).
void add_mask_densities(const BenchSetting& setting, std::span<const std::int32_t> death, BenchResult& result);
nlohmann::json bench_json(const BenchSetting& setting, const BenchResult& result);
double median_of(std::vector<double> values);

}  // namespace dmascope::cli
