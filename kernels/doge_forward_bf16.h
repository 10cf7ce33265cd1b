// The Doge forward pass on the GPU in bf16 (batch 1), as transformers computes it when the model runs in bf16 on the
// GPU: the weights converted to bf16 once, on upload; the projections, the MLP and lm_head as cuBLAS bf16 GEMMs with
// fp32 accumulation; the attention on DmaRunner's mask build and forward (kernels/dma_cuda.h), the very kernels the
// Timing panel times; every element-wise step computed in fp32 and rounded to bf16 where transformers rounds, so that
// β is bf16-valued and the mask follows transformers' (ties at the cut go to the lower index, as torch on CUDA). The
// whole forward is one CUDA graph, captured per (length, options) and replayed. The fp32 forward
// (kernels/doge_forward_cuda.h) stays the exact reference; the tests compare the two and the CPU's.
//
//   step                          here                                     fp32 twin (doge_forward_cuda)
//   embedding                     embed_rows_bf16                          embed_rows
//   RMSNorm (x, q/k per head)     rms_norm_bf16 (fp32 statistics)          rms_norm
//   q/k/v, gate/up (fused GEMMs)  cublasGemmEx bf16 → bf16, fp32 compute   cuBLAS SGEMM per projection
//   RoPE + heads-first layout     heads_first_bf16 (v too: zero-padded)    rope_heads_first
//   dt → β                        dynamic_bias_bf16 (bf16 β, fp32 array)   dynamic_bias
//   mask + attention              DmaRunner::launch_mask_and_forward       mask_build + attention_f32
//   residuals, SiLU gate          residual_bf16, silu_gate_bf16            residual, silu_gate
//   CDMoE router                  cublasGemmEx bf16 → bf16 (bf16 logits)   cuBLAS SGEMM
//   CDMoE routing, experts        cdmoe kernels, bf16 overloads            the same kernels' fp32 overloads
// CDMoE (kernels/cdmoe_kernels.cuh) rounds as transformers' CDMoE in a bf16 model: the router logits, the pair sums
// and the softmax's output are bf16 (the softmax itself computes in fp32, as torch's does for bf16 input), and so are
// each expert's dot product, silu, weighted activation, the routed sum and its addition to the shared expert.
// Head dims below 64 (and between 64 and 128) are zero-padded to the kernels' 64 or 128, which leaves q·k and the
// output unchanged; the softmax scale stays 1/sqrt(head_dim). Non-finite activations are an error naming the layer
// and the step where they first appear (one device flag per step, read once after the forward).
#pragma once

#include <memory>
#include <span>
#include <string>

#include "core/attention/kernel_choice.h"
#include "kernels/doge_forward_cuda.h"

namespace dmascope::cuda {

// Why this model cannot run on the bf16 GPU forward, or an empty string.
std::string bf16_forward_unsupported_reason(const DogeModel& model);

class DogeForwardBf16 {
 public:
  explicit DogeForwardBf16(const DogeModel& model);  // throws with the model's folder when unsupported
  ~DogeForwardBf16();
  DogeForwardBf16(const DogeForwardBf16&) = delete;
  DogeForwardBf16& operator=(const DogeForwardBf16&) = delete;

  // As DogeForwardCuda::run (the same options and outputs are honoured), with these differences: the captures come
  // from the bf16 activations (q_rope, k_rope and v widened to fp32 for the host); attention_ms is not measured (the
  // forward is one graph: gpu_ms is its device time); on_progress is called once per layer after the graph ran.
  GpuForwardResult run(std::span<const std::int32_t> ids, const ForwardOptions& options,
                       const GpuForwardOutputs& outputs = {});

  std::size_t weight_bytes() const;
  // How many times run() captured a graph so far (tests: a shape change re-captures, a repeat replays).
  int graph_captures() const;
  // false: launch the steps one by one on every run instead of replaying a graph (tests: replay equals eager).
  void set_use_graphs(bool use_graphs);
  // Input (the default): the attention scores rounded to bf16 as transformers' bf16 eager attention rounds them, so
  // that β and the masks follow transformers' bf16 forward. Fp32: the scores kept in fp32 — closer to the fp32
  // reference, no longer to transformers' bf16 (tests: the bf16 arithmetic alone against the fp32 forward).
  void set_score_rounding(ScoreRounding scores);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dmascope::cuda
