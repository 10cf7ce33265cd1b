// One attention problem to time, on the host in fp32, and how to time it: what every backend's time_attention takes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "core/attention/attention_cpu.h"
#include "core/attention/kernel_choice.h"
#include "core/compute/precision.h"
#include "core/mask/dma_mask.h"

namespace dmascope {

// Inputs in the kernels' layouts: q [B, Hq, L, d], k/v [B, Hkv, L, d], β [B, Hb, L]; causal, Lq = Lk = L.
class DeviceCaptures;  // core/compute/compute_backend.h

struct AttentionInputs {
  std::int64_t batch = 1, q_heads = 1, kv_heads = 1, bias_heads = 1, length = 0, head_dim = 64, window = 1;
  MaskVariant variant = MaskVariant::PerRowTopK;
  std::vector<float> q, k, v, beta;
  // Instead of q, k, v and β above (then left empty): layer `device_layer` of a forward's captures on the device that
  // computed them (batch 1). The CUDA backend times and instruments them where they are; a backend that cannot reach
  // them downloads them first (DeviceCaptures::attention_inputs).
  std::shared_ptr<const DeviceCaptures> device;
  std::int64_t device_layer = -1;
  bool on_device() const { return device != nullptr; }
};

inline constexpr std::size_t kCpuMaterializedMaxBytes = std::size_t{1} << 30;

struct AttentionTimingOptions {
  Precision precision = Precision::BF16;  // CUDA: bf16 or fp16; the CPU computes in fp32 whatever this says
  int warmup = 3, repeats = 20;           // CUDA always; the CPU only when cpu_budget_ms is 0
  double cpu_budget_ms = 2000;            // CPU: per variant after one warm-up run, at most cpu_max_repeats
  int cpu_max_repeats = 9;
  TileShape cpu_tiles{16, 16};
  bool baselines = true;        // time dense and materialized too (a w sweep times them once: they ignore w)
  // The baselines with β added to the scores (the Timing view: the same problem as the DMA's), or plain causal
  // attention (bench: the attention a user would otherwise run).
  bool baselines_with_bias = true;
  std::size_t cpu_materialized_max_bytes = kCpuMaterializedMaxBytes;
  std::size_t cuda_materialized_max_bytes = std::numeric_limits<std::size_t>::max();  // also ≤ 85% of the free memory
  int materialized_max_repeats = std::numeric_limits<int>::max();  // the materialized GEMMs are slow at large L
  // CUDA: also time mask_and_lists and dma_launched (bench's breakdown of the DMA time).
  bool detail = false;
  KernelChoice kernels;  // CUDA: which kernels DmaRunner launches (the defaults unless bench --kernel says otherwise)
  // Return the DMA output (mask build + forward) in LayerTiming::dma_output, for a check outside the program (bench
  // --save-output). Off in the app: at 128K tokens and 32 heads it is 2 GB.
  bool keep_dma_output = false;
  // CUDA: also time the DMA graph with the forward kernel's counters on (LayerTiming::dma_total_counted) and keep what
  // they counted (bench --counters). dma_total is always the plain run, counters off.
  bool counters = false;
};

}  // namespace dmascope
