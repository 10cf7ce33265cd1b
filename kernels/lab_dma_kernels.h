// The mask lab's strategies that a death array expresses (core/lab/strategy_death.h: dma, shared, swa, sinks), run
// on the DMA kernels themselves — the bf16 wgmma forward the Timing panel times and the model forward runs — so that
// the lab's time for them is the kernel's, not the generic gather kernel's. dma and shared build their mask from β on
// the device (mask build included, as the Timing panel's DMA time); swa and sinks run from their positional death
// indices (gather lists + forward). Each is one CUDA-graph replay. A head's fp32 q, k, v become bf16, zero-padded to
// the kernel's head dim (64 or 128) at the head's own scale.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/lab/lab_head.h"
#include "core/lab/strategy.h"
#include "kernels/dma_cuda.h"

namespace dmascope::cuda {

class LabDmaKernels {
 public:
  LabDmaKernels();
  ~LabDmaKernels();
  LabDmaKernels(const LabDmaKernels&) = delete;
  LabDmaKernels& operator=(const LabDmaKernels&) = delete;

  // Why this head cannot run on the DMA kernels (a head dim over 128, a shape the kernels refuse), or "".
  static std::string unsupported_reason(const LabHead& head);

  // The head to run next: q, k, v [L, d] and β [L] fp32 already on the device (the lab's copies; complete before this
  // call returns work on the legacy default stream). Converts q, k, v to padded bf16; keeps β's pointer.
  void load(const LabHead& head, const float* q, const float* k, const float* v, const float* beta);
  // Device times (ms) of `repeats` graph replays of the strategy after `warmup` untimed ones; the median is the
  // strategy's time. dma, shared, swa or sinks (Error otherwise).
  std::vector<double> time(Strategy strategy, int warmup, int repeats);
  // After time(strategy): its death indices [L] and output [L, d] (bf16 values as fp32, the padding dropped).
  std::vector<std::int32_t> death(Strategy strategy) const;
  std::vector<float> output(Strategy strategy) const;

 private:
  struct Run;  // per strategy: its runner, death array and output
  Run& run_of(Strategy strategy);
  AttentionShape shape_;
  std::int64_t window_ = 0, head_dim_ = 0;
  DeviceBuffer query_, key_, value_;
  const float* beta_ = nullptr;
  std::array<std::unique_ptr<Run>, 4> runs_;
};

}  // namespace dmascope::cuda
