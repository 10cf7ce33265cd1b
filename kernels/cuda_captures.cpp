#include "kernels/cuda_captures.h"

#include <cuda_runtime.h>

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <mutex>

#include "core/base/error.h"
#include "core/formats/tensor.h"
#include "kernels/cuda_check.h"
#include "kernels/dma_cuda.h"
#include "kernels/logit_view.cuh"
#include "kernels/view_reduce.cuh"

namespace dmascope::cuda {

namespace {

// Kept q/k/v may take at most this share of the free device memory (the app holds two results while it recomputes).
constexpr double kInputsFreeShare = 0.5;

void ensure(DeviceBuffer& buffer, std::size_t bytes) {
  if (buffer.bytes() < bytes) buffer = DeviceBuffer(std::max<std::size_t>(bytes, 1));
}

std::vector<float> to_f32(const std::vector<std::uint8_t>& bytes, std::int64_t element_bytes) {
  std::vector<float> values(bytes.size() / static_cast<std::size_t>(element_bytes));
  if (element_bytes == 4) {
    std::copy_n(reinterpret_cast<const float*>(bytes.data()), values.size(), values.begin());
  } else {
    const auto* bits = reinterpret_cast<const std::uint16_t*>(bytes.data());
    for (std::size_t n = 0; n < values.size(); ++n) values[n] = bf16_to_f32(bf16{bits[n]});
  }
  return values;
}

}  // namespace

struct CudaCaptures::Impl {
  DeviceBuffer death, beta, q, k, v;
  std::optional<CaptureInputsShape> inputs;
  std::string inputs_missing = "the forward was not asked to keep q, k and v on the device";
  cudaStream_t stream = nullptr;
  mutable std::mutex mutex;  // one view at a time on the stream and the scratch buffers
  mutable DeviceBuffer columns, bands, grid, ranges, lse, values, coverage, computed, sampled;
};

CudaCaptures::CudaCaptures(std::int64_t layers, std::int64_t bias_heads, std::int64_t length,
                           std::optional<CaptureInputsShape> inputs)
    : impl_(std::make_unique<Impl>()), layers_(layers), bias_heads_(bias_heads), length_(length) {
  if (layers < 1 || bias_heads < 1 || length < 1)
    fail("device captures: {} layers × {} bias heads × {} tokens is empty", layers, bias_heads, length);
  const auto mask_bytes = static_cast<std::size_t>(layers * bias_heads * length) * 4;
  impl_->death = DeviceBuffer(mask_bytes);
  impl_->beta = DeviceBuffer(mask_bytes);
  DMASCOPE_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
  if (!inputs) return;
  if (inputs->q_heads < 1 || inputs->kv_heads < 1 || inputs->head_dim < 1 ||
      (inputs->element_bytes != 2 && inputs->element_bytes != 4))
    fail("device captures: q/k/v shape {} / {} heads × d {} × {} bytes is not one the forward makes", inputs->q_heads,
         inputs->kv_heads, inputs->head_dim, inputs->element_bytes);
  const auto per_head = static_cast<std::size_t>(layers * length * inputs->head_dim * inputs->element_bytes);
  const std::size_t q_bytes = per_head * static_cast<std::size_t>(inputs->q_heads);
  const std::size_t kv_bytes = per_head * static_cast<std::size_t>(inputs->kv_heads);
  std::size_t free_bytes = 0, total_bytes = 0;
  DMASCOPE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const std::size_t needed = q_bytes + 2 * kv_bytes;
  if (static_cast<double>(needed) > kInputsFreeShare * static_cast<double>(free_bytes)) {
    impl_->inputs_missing = fmt::format("keeping q, k and v of {} layers needs {:.0f} MiB, more than half of the "
                                        "{:.0f} MiB free on the device",
                                        layers, needed / 1048576.0, free_bytes / 1048576.0);
    return;
  }
  impl_->q = DeviceBuffer(q_bytes);
  impl_->k = DeviceBuffer(kv_bytes);
  impl_->v = DeviceBuffer(kv_bytes);
  impl_->inputs = inputs;
  impl_->inputs_missing.clear();
}

CudaCaptures::~CudaCaptures() {
  if (impl_ && impl_->stream) cudaStreamDestroy(impl_->stream);
}

bool CudaCaptures::keeps_inputs() const { return impl_->inputs.has_value(); }

const CaptureInputsShape& CudaCaptures::inputs_shape() const {
  if (!impl_->inputs) fail("device captures: {}", impl_->inputs_missing);
  return *impl_->inputs;
}

std::int32_t* CudaCaptures::death_data(std::int64_t layer) const {
  if (layer < 0 || layer >= layers_) fail("device captures: layer {} is out of range [0, {})", layer, layers_);
  return impl_->death.as<std::int32_t>() + layer * bias_heads_ * length_;
}

float* CudaCaptures::beta_data(std::int64_t layer) const {
  if (layer < 0 || layer >= layers_) fail("device captures: layer {} is out of range [0, {})", layer, layers_);
  return impl_->beta.as<float>() + layer * bias_heads_ * length_;
}

void* CudaCaptures::q_data(std::int64_t layer) const {
  const CaptureInputsShape& s = inputs_shape();
  death_data(layer);  // the range check
  return impl_->q.as<char>() + layer * s.q_heads * length_ * s.head_dim * s.element_bytes;
}

void* CudaCaptures::k_data(std::int64_t layer) const {
  const CaptureInputsShape& s = inputs_shape();
  death_data(layer);
  return impl_->k.as<char>() + layer * s.kv_heads * length_ * s.head_dim * s.element_bytes;
}

void* CudaCaptures::v_data(std::int64_t layer) const {
  const CaptureInputsShape& s = inputs_shape();
  death_data(layer);
  return impl_->v.as<char>() + layer * s.kv_heads * length_ * s.head_dim * s.element_bytes;
}

std::string CudaCaptures::attention_inputs_missing() const { return impl_->inputs_missing; }

std::optional<std::vector<float>> CudaCaptures::reduce(std::int64_t layer, std::int64_t bias_head,
                                                       const MatrixWindow& window, std::int64_t width,
                                                       std::int64_t height, ReduceMode mode) const {
  if (bias_head < 0 || bias_head >= bias_heads_)
    fail("device captures: bias head {} is out of range [0, {})", bias_head, bias_heads_);
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
  detail::launch_reduce_mask_grid(death_data(layer) + bias_head * length_, static_cast<int>(length_),
                                  impl_->columns.as<std::int64_t>(), impl_->bands.as<std::int64_t>(),
                                  static_cast<int>(width), static_cast<int>(height), mode == ReduceMode::Max,
                                  impl_->grid.as<float>(), stream);
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(grid.data(), impl_->grid.get(), grid.size() * 4, cudaMemcpyDeviceToHost,
                                      stream));
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
  return grid;
}

namespace {

// The view problem of one query head of a layer.
detail::LogitViewProblem view_problem(const CudaCaptures& captures, std::int64_t layer, std::int64_t q_head) {
  const CaptureInputsShape& s = captures.inputs_shape();
  if (q_head < 0 || q_head >= s.q_heads)
    fail("device captures: query head {} is out of range [0, {})", q_head, s.q_heads);
  const std::int64_t L = captures.length(), Hb = captures.bias_heads();
  const std::int64_t kv_head = q_head / (s.q_heads / s.kv_heads);
  const std::int64_t bias_head = Hb == s.q_heads ? q_head : q_head / (s.q_heads / Hb);
  detail::LogitViewProblem problem;
  problem.q = static_cast<const char*>(captures.q_data(layer)) + q_head * L * s.head_dim * s.element_bytes;
  problem.k = static_cast<const char*>(captures.k_data(layer)) + kv_head * L * s.head_dim * s.element_bytes;
  problem.beta = captures.beta_data(layer) + bias_head * L;
  problem.death = captures.death_data(layer) + bias_head * L;
  problem.type = s.element_bytes == 2 ? detail::CaptureType::BF16 : detail::CaptureType::F32;
  problem.length = static_cast<int>(L);
  problem.head_dim = static_cast<int>(s.head_dim);
  problem.scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));  // as the forward's attention
  return problem;
}

}  // namespace

LogitGrid CudaCaptures::logit_grid(std::int64_t layer, std::int64_t q_head, const MatrixWindow& window,
                                   std::int64_t width, std::int64_t height, ReduceMode mode,
                                   const LogitGridOptions& options, bool probabilities) const {
  if (width < 1 || height < 1) fail("view reduction: grid {}x{} must be at least 1x1 pixels", width, height);
  if (options.samples_per_pixel < 1)
    fail("logits view: samples_per_pixel {} must be at least 1", options.samples_per_pixel);
  const detail::LogitViewProblem problem = view_problem(*this, layer, q_head);
  const std::int64_t L = length_;
  LogitGrid grid;
  grid.width = width;
  grid.height = height;
  grid.values.assign(static_cast<std::size_t>(width * height), 0.0f);
  grid.coverage.assign(static_cast<std::size_t>(width * height), LogitPixel::NoCausalCell);
  if (options.cancel && options.cancel->load()) {
    grid.cancelled = true;
    return grid;
  }
  const auto rows = cells_of_pixels(window.row_begin, window.row_end, height, L);
  const auto columns = cells_of_pixels(window.col_begin, window.col_end, width, L);
  std::vector<std::int64_t> ranges;
  ranges.reserve(static_cast<std::size_t>(2 * (width + height)));
  for (const CellRange& r : rows) ranges.insert(ranges.end(), {r.begin, r.end});
  for (const CellRange& c : columns) ranges.insert(ranges.end(), {c.begin, c.end});
  const CellRange lse_rows = rows_in_view(window, height, L);

  std::lock_guard lock(impl_->mutex);
  cudaStream_t stream = impl_->stream;
  // The budget follows the window's kept entries, counted on the host from the head's death indices (L values).
  std::vector<std::int32_t> death(static_cast<std::size_t>(L));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(death.data(), problem.death, death.size() * 4, cudaMemcpyDeviceToHost, stream));
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
  grid.kept_entries = kept_entries_in_window(death, window, width, height);
  const long long budget = grid.kept_entries <= options.exact_max_entries
                               ? std::numeric_limits<long long>::max()
                               : static_cast<long long>(options.samples_per_pixel);
  const auto pixels = static_cast<std::size_t>(width * height);
  ensure(impl_->ranges, ranges.size() * 8);
  ensure(impl_->values, pixels * 4);
  ensure(impl_->coverage, pixels);
  ensure(impl_->computed, pixels * 8);
  ensure(impl_->sampled, pixels);
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(impl_->ranges.get(), ranges.data(), ranges.size() * 8, cudaMemcpyHostToDevice,
                                      stream));
  const float* lse = nullptr;
  if (probabilities) {
    ensure(impl_->lse, static_cast<std::size_t>(std::max<std::int64_t>(lse_rows.end - lse_rows.begin, 1)) * 4);
    detail::launch_row_log_sum_exp(problem, static_cast<int>(lse_rows.begin),
                                   static_cast<int>(lse_rows.end - lse_rows.begin), impl_->lse.as<float>(), stream);
    lse = impl_->lse.as<float>();
  }
  const detail::LogitGridPixels out{impl_->values.as<float>(), impl_->coverage.as<std::uint8_t>(),
                                    impl_->computed.as<long long>(), impl_->sampled.as<std::uint8_t>()};
  detail::launch_logit_grid(problem, impl_->ranges.as<std::int64_t>(), static_cast<int>(height),
                            impl_->ranges.as<std::int64_t>() + 2 * height, static_cast<int>(width),
                            mode == ReduceMode::Max, budget, lse, static_cast<int>(lse_rows.begin), out, stream);
  std::vector<std::uint8_t> coverage(pixels), sampled(pixels);
  std::vector<long long> computed(pixels);
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(grid.values.data(), impl_->values.get(), pixels * 4, cudaMemcpyDeviceToHost,
                                      stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(coverage.data(), impl_->coverage.get(), pixels, cudaMemcpyDeviceToHost, stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(computed.data(), impl_->computed.get(), pixels * 8, cudaMemcpyDeviceToHost,
                                      stream));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(sampled.data(), impl_->sampled.get(), pixels, cudaMemcpyDeviceToHost, stream));
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (options.cancel && options.cancel->load()) {
    grid.cancelled = true;
    return grid;
  }
  // Counted as the CPU counts them: a pixel that repeats its left or upper neighbour's cells is computed once there.
  for (std::int64_t y = 0; y < height; ++y) {
    const auto row = static_cast<std::size_t>(y);
    const bool repeated_row = y > 0 && rows[row] == rows[row - 1];
    for (std::int64_t x = 0; x < width; ++x) {
      const auto p = static_cast<std::size_t>(y * width + x), column = static_cast<std::size_t>(x);
      grid.coverage[p] = static_cast<LogitPixel>(coverage[p]);
      if (!repeated_row && !(x > 0 && columns[column] == columns[column - 1])) {
        grid.computed_entries += computed[p];
        grid.sampled |= sampled[p] != 0;
      }
    }
  }
  set_value_range(grid);
  return grid;
}

LogitCell CudaCaptures::cell(std::int64_t layer, std::int64_t q_head, std::int64_t query, std::int64_t key) const {
  if (query < 0 || key < 0 || query >= length_ || key >= length_)
    fail("logits view: cell ({}, {}) is outside the {}×{} matrix", query, key, length_, length_);
  // A one-pixel grid over exactly this entry, in both quantities: the grids' own arithmetic.
  const MatrixWindow window{static_cast<double>(query), static_cast<double>(query + 1), static_cast<double>(key),
                            static_cast<double>(key + 1)};
  LogitCell cell;
  const LogitGrid logit = logit_grid(layer, q_head, window, 1, 1, ReduceMode::Max, {}, false);
  if (logit.coverage[0] != LogitPixel::Value) {
    cell.logit = -std::numeric_limits<float>::infinity();
    return cell;
  }
  cell.logit = logit.values[0];
  cell.probability = logit_grid(layer, q_head, window, 1, 1, ReduceMode::Max, {}, true).values[0];
  return cell;
}

AttentionInputs CudaCaptures::attention_inputs(std::int64_t layer) const {
  const CaptureInputsShape& s = inputs_shape();
  AttentionInputs inputs;
  inputs.q_heads = s.q_heads;
  inputs.kv_heads = s.kv_heads;
  inputs.bias_heads = bias_heads_;
  inputs.length = length_;
  inputs.head_dim = s.head_dim;
  std::lock_guard lock(impl_->mutex);
  auto download = [&](const void* source, std::int64_t heads) {
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(heads * length_ * s.head_dim * s.element_bytes));
    DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(bytes.data(), source, bytes.size(), cudaMemcpyDeviceToHost, impl_->stream));
    DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
    return to_f32(bytes, s.element_bytes);
  };
  inputs.q = download(q_data(layer), s.q_heads);
  inputs.k = download(k_data(layer), s.kv_heads);
  inputs.v = download(v_data(layer), s.kv_heads);
  inputs.beta.resize(static_cast<std::size_t>(bias_heads_ * length_));
  DMASCOPE_CUDA_CHECK(cudaMemcpyAsync(inputs.beta.data(), beta_data(layer), inputs.beta.size() * 4,
                                      cudaMemcpyDeviceToHost, impl_->stream));
  DMASCOPE_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
  return inputs;
}

}  // namespace dmascope::cuda
