// The heatmap's level of detail on the GPU that computed the mask: a forward's death indices stay on the
// device (DeviceMasks, filled by DogeForwardCuda::run), and each view is reduced there to its pixels, so neither the
// mask nor an L×L buffer ever crosses to the host; only the grid of pixels comes back. CPU twin: reduce_mask_to_grid.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/compute/compute_backend.h"  // MaskViews
#include "core/view/view_reduce.h"

namespace dmascope::cuda {

class DeviceMasks final : public MaskViews {
 public:
  DeviceMasks(std::int64_t layers, std::int64_t bias_heads, std::int64_t length);  // throws on a device error
  ~DeviceMasks();
  DeviceMasks(const DeviceMasks&) = delete;
  DeviceMasks& operator=(const DeviceMasks&) = delete;

  std::int64_t layers() const { return layers_; }
  std::int64_t bias_heads() const { return bias_heads_; }
  std::int64_t length() const { return length_; }
  // Device pointer to layer's [bias_heads, length] death indices (DogeForwardCuda copies each layer's in).
  std::int32_t* layer_data(std::int64_t layer) const;

  // The view's grid as reduce_mask_to_grid computes it, reduced on the device on the masks' own stream (it never
  // waits for a forward or a timing run on another stream). nullopt when this path does not apply: zoomed in so far
  // that pixel rows overlap (few keys are visible then; the CPU reduces them), or a grid taller than the kernel takes.
  std::optional<std::vector<float>> reduce(std::int64_t layer, std::int64_t bias_head, const MatrixWindow& window,
                                           std::int64_t width, std::int64_t height, ReduceMode mode) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::int64_t layers_ = 0, bias_heads_ = 0, length_ = 0;
};

}  // namespace dmascope::cuda
