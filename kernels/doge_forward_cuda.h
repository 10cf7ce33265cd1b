// The Doge forward pass on the GPU in float32 (batch 1): the twin of core's doge_forward (core/model/doge_forward.h), step
// for step, so that the app's CUDA backend computes the masks it shows on the device that shows them as computed.
// Plain C++ (no CUDA headers): the app, the CLI and the tests include it. Each kernel alone against its CPU twin:
// tests/support/doge_forward_kernel_checks.h (test-only).
//
//   step                        GPU                                  CPU twin (core/)
//   embedding                   embed_rows kernel                    doge_forward's gather / embed_rows_f32
//   RMSNorm (x, q/k per head)   rms_norm kernel                      rms_norm_f32 (core/model/linear.h)
//   projections, MLP, lm_head   cuBLAS SGEMM, TF32 off               linear_f32
//   RoPE + heads-first layout   rope_heads_first kernel              apply_rope (core/model/rope.h) + a transpose
//   dt → β (exp | linear)       dynamic_bias kernel                  doge_dynamic_bias (core/model/doge_forward.h)
//   DMA mask (death indices)    mask_build.cu (launch_mask_build)    dma_death_indices (core/mask/dma_mask.h)
//   attention over kept keys    attention_f32 kernel (gather lists)  attention_reference (core/attention/attention_cpu.h)
//   residuals, SiLU gate        residual / silu_gate kernels         core/model/forward_elementwise.h
//   CDMoE router                cuBLAS SGEMM                         linear_f32
//   CDMoE routing, experts      cdmoe_route / cdmoe_experts kernels  cdmoe_route / cdmoe_add_experts
//                               (kernels/cdmoe_kernels.cuh)          (core/model/cdmoe_experts.h)
//   tile maps (any tile shape)  tile_map kernel                      build_tile_map (core/attention/attention_cpu.h)
// Non-finite activations are an error naming the layer and step where they first appear (kernels/forward_steps.h).
// The bf16 forward (kernels/doge_forward_bf16.h) is the fast path; this one is its exact reference.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/model/doge_forward.h"

namespace dmascope::cuda {

// Which rows of the logits come back: all [1, L, V] (as the CPU forward), only the last position's [1, 1, V] (the
// app: L·V floats are 4 GiB for Doge-20M at 32K and nothing shows them), or none.
class CudaCaptures;  // kernels/cuda_captures.h

enum class LogitRows { All, Last, None };

struct GpuForwardOutputs {
  bool attention_inputs = true;  // per layer q_rope [1,H,L,d], k_rope [1,Hkv,L,d], v [1,L,Hkv·d] (logits view, timing)
  bool tile_maps = true;         // per layer and bias head, in the options' tile shape
  bool tile_maps_on_gpu = true;  // false: built on the CPU from the downloaded death arrays (build_tile_map)
  LogitRows logits = LogitRows::All;
  bool poison_activations = false;  // tests: fill the device activations with NaN first, so a skipped element shows
  // When set (made for this run's layers, bias heads and length), each layer's death indices and β, and q/k/v when it
  // keeps them, are also copied into it on the device, where the app computes its views (cuda_captures.h).
  std::shared_ptr<CudaCaptures> captures;
};

struct GpuForwardResult {
  ForwardResult forward;     // window, layers (dyn_bias, death, and what `outputs` asked for), logits, elapsed_ms
  double gpu_ms = 0.0;       // device time of the whole forward (CUDA events), downloads excluded
  double download_ms = 0.0;  // wall time of the device→host copies of the captures
  double tile_map_ms = 0.0;  // tile maps: GPU kernel time + download of the statuses, or the CPU's wall time
};

// Why this model cannot run on the GPU forward, or an empty string.
std::string gpu_forward_unsupported_reason(const DogeModel& model);

// Owns a model's fp32 weights on the device (uploaded once, in the constructor) and the activations of the last run
// (grown as needed, reused across runs). Not thread-safe: one run at a time.
class DogeForwardCuda {
 public:
  explicit DogeForwardCuda(const DogeModel& model);  // throws with the model's folder when unsupported
  ~DogeForwardCuda();
  DogeForwardCuda(const DogeForwardCuda&) = delete;
  DogeForwardCuda& operator=(const DogeForwardCuda&) = delete;

  // options: window, mask_variant, bias_formula, tiles (of the tile maps), cancel and on_progress (checked and called
  // after each layer, which synchronizes the device once per layer) are honoured; capture_probs is refused (the GPU
  // never materializes probabilities). Throws ForwardCancelled on cancel.
  GpuForwardResult run(std::span<const std::int32_t> ids, const ForwardOptions& options,
                       const GpuForwardOutputs& outputs = {});

  std::size_t weight_bytes() const;  // device memory the weights take

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dmascope::cuda
