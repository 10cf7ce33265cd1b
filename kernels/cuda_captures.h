// A forward's captures left on the GPU that computed them (the CUDA side of DeviceCaptures, core/compute/
// compute_backend.h): per layer the death indices and β, and when asked q and k after RoPE and v, in the forward's
// precision. The heatmap's views are reduced here, for the visible window only; only the grid of pixels comes back.
// Twins: reduce_mask_to_grid (view_reduce.cu), row_log_sum_exp and reduce_logits_to_grid (logit_view.cu).
// DogeForwardCuda and DogeForwardBf16 fill it after their run, on their own stream; views run on this object's stream.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/compute/compute_backend.h"  // DeviceCaptures
#include "core/view/view_reduce.h"

namespace dmascope::cuda {

// Where the forward keeps q/k/v: its head shape and element size (4: fp32 forward, 2: bf16 forward).
struct CaptureInputsShape {
  std::int64_t q_heads = 0, kv_heads = 0, head_dim = 0, element_bytes = 4;
};

class CudaCaptures final : public DeviceCaptures {
 public:
  // Throws on a device error. With `inputs`, q/k/v storage is allocated when the device has room for it (at most half
  // the free memory); otherwise attention_inputs_missing() says why and the views that need q/k refuse.
  CudaCaptures(std::int64_t layers, std::int64_t bias_heads, std::int64_t length,
               std::optional<CaptureInputsShape> inputs);
  ~CudaCaptures() override;
  CudaCaptures(const CudaCaptures&) = delete;
  CudaCaptures& operator=(const CudaCaptures&) = delete;

  std::int64_t layers() const { return layers_; }
  std::int64_t bias_heads() const { return bias_heads_; }
  std::int64_t length() const { return length_; }
  bool keeps_inputs() const;
  const CaptureInputsShape& inputs_shape() const;
  // Device pointers the forward copies into, per layer: death and β [Hb, L]; q [Hq, L, d], k and v [Hkv, L, d].
  std::int32_t* death_data(std::int64_t layer) const;
  float* beta_data(std::int64_t layer) const;
  void* q_data(std::int64_t layer) const;
  void* k_data(std::int64_t layer) const;
  void* v_data(std::int64_t layer) const;

  // The view's grid as reduce_mask_to_grid computes it. nullopt when zoomed in so far that pixel rows overlap (few
  // keys are visible then; the CPU reduces them), or for a grid taller than the kernel takes.
  std::optional<std::vector<float>> reduce(std::int64_t layer, std::int64_t bias_head, const MatrixWindow& window,
                                           std::int64_t width, std::int64_t height, ReduceMode mode) const override;
  std::string attention_inputs_missing() const override;
  LogitGrid logit_grid(std::int64_t layer, std::int64_t q_head, const MatrixWindow& window, std::int64_t width,
                       std::int64_t height, ReduceMode mode, const LogitGridOptions& options,
                       bool probabilities) const override;
  LogitCell cell(std::int64_t layer, std::int64_t q_head, std::int64_t query, std::int64_t key) const override;
  AttentionInputs attention_inputs(std::int64_t layer) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::int64_t layers_ = 0, bias_heads_ = 0, length_ = 0;
};

}  // namespace dmascope::cuda
