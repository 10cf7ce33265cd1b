#include "kernels/view_reduce_cuda.h"

#include <cuda_runtime.h>

#include <fmt/format.h>

#include <mutex>

#include "core/base/error.h"
#include "kernels/cuda_check.h"
#include "kernels/dma_cuda.h"
#include "kernels/view_reduce.cuh"

namespace dmascope::cuda {

struct DeviceMasks::Impl {
  DeviceBuffer death;
  cudaStream_t stream = nullptr;
  mutable std::mutex mutex;                      // one reduction at a time on the stream and the scratch buffers
  mutable DeviceBuffer columns, bands, grid;     // grown as views need
};

namespace {

void ensure(DeviceBuffer& buffer, std::size_t bytes) {
  if (buffer.bytes() < bytes) buffer = DeviceBuffer(bytes);
}

}  // namespace

DeviceMasks::DeviceMasks(std::int64_t layers, std::int64_t bias_heads, std::int64_t length)
    : impl_(std::make_unique<Impl>()), layers_(layers), bias_heads_(bias_heads), length_(length) {
  if (layers < 1 || bias_heads < 1 || length < 1)
    fail("device masks: {} layers × {} bias heads × {} tokens is empty", layers, bias_heads, length);
  impl_->death = DeviceBuffer(static_cast<std::size_t>(layers * bias_heads * length) * 4);
  DMASCOPE_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
}

DeviceMasks::~DeviceMasks() {
  if (impl_ && impl_->stream) cudaStreamDestroy(impl_->stream);
}

std::int32_t* DeviceMasks::layer_data(std::int64_t layer) const {
  if (layer < 0 || layer >= layers_) fail("device masks: layer {} is out of range [0, {})", layer, layers_);
  return impl_->death.as<std::int32_t>() + layer * bias_heads_ * length_;
}

std::optional<std::vector<float>> DeviceMasks::reduce(std::int64_t layer, std::int64_t bias_head,
                                                      const MatrixWindow& window, std::int64_t width,
                                                      std::int64_t height, ReduceMode mode) const {
  if (bias_head < 0 || bias_head >= bias_heads_)
    fail("device masks: bias head {} is out of range [0, {})", bias_head, bias_heads_);
  if (width < 1 || height < 1) fail("view reduction: grid {}x{} must be at least 1x1 pixels", width, height);
  if (height > detail::kReduceMaxHeight) return std::nullopt;
  // The pixels' cells, by the rule the CPU and the hover lookup share (core/view/view_geometry.h).
  const std::vector<std::int64_t> bands = tiling_row_bands(window, height, length_);
  if (bands.empty()) return std::nullopt;  // overlapping bands: zoomed in
  std::vector<std::int64_t> columns;
  columns.reserve(static_cast<std::size_t>(2 * width));
  for (std::int64_t x = 0; x < width; ++x) {
    const CellRange keys = cells_of_pixel(window.col_begin, window.col_end, width, x, length_);
    columns.push_back(keys.begin);
    columns.push_back(keys.end);
  }
  std::vector<float> grid(static_cast<std::size_t>(width * height));
  std::lock_guard lock(impl_->mutex);
  ensure(impl_->columns, columns.size() * 8);
  ensure(impl_->bands, bands.size() * 8);
  ensure(impl_->grid, grid.size() * 4);
  cudaStream_t stream = impl_->stream;
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(impl_->columns.get(), columns.data(), columns.size() * 8,
                                      cudaMemcpyHostToDevice, stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(impl_->bands.get(), bands.data(), bands.size() * 8, cudaMemcpyHostToDevice,
                                      stream));
  detail::launch_reduce_mask_grid(layer_data(layer) + bias_head * length_, static_cast<int>(length_),
                                  impl_->columns.as<std::int64_t>(), impl_->bands.as<std::int64_t>(),
                                  static_cast<int>(width), static_cast<int>(height), mode == ReduceMode::Max,
                                  impl_->grid.as<float>(), stream);
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(grid.data(), impl_->grid.get(), grid.size() * 4, cudaMemcpyDeviceToHost,
                                      stream));
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
  return grid;
}

}  // namespace dmascope::cuda
