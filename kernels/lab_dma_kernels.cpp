#include "kernels/lab_dma_kernels.h"

#include <cuda_runtime.h>
#include <fmt/format.h>

#include "core/base/error.h"
#include "core/formats/tensor.h"
#include "core/lab/strategy_death.h"
#include "kernels/cuda_check.h"
#include "kernels/rows_to_bf16.cuh"

namespace dmascope::cuda {

namespace {

std::int64_t padded_head_dim(std::int64_t d) { return d <= 64 ? 64 : 128; }

std::size_t slot_of(Strategy strategy) {
  switch (strategy) {
    case Strategy::Dma: return 0;
    case Strategy::Shared: return 1;
    case Strategy::Swa: return 2;
    case Strategy::Sinks: return 3;
    default: fail("mask lab: strategy {} does not run on the DMA kernels (no death indices)", strategy_name(strategy));
  }
}

AttentionShape shape_of(const LabHead& head) {
  AttentionShape shape;
  shape.q_len = shape.key_len = head.length;
  shape.head_dim = padded_head_dim(head.head_dim);
  shape.precision = Precision::BF16;
  shape.scale = head.scale;
  return shape;
}

}  // namespace

struct LabDmaKernels::Run {
  std::unique_ptr<DmaRunner> runner;
  DeviceBuffer death, out;
  bool ran = false;
};

LabDmaKernels::LabDmaKernels() = default;
LabDmaKernels::~LabDmaKernels() = default;

std::string LabDmaKernels::unsupported_reason(const LabHead& head) {
  if (head.head_dim > 128) return fmt::format("head dim {} is over the DMA kernels' 128", head.head_dim);
  return cuda::unsupported_reason(shape_of(head));
}

void LabDmaKernels::load(const LabHead& head, const float* q, const float* k, const float* v, const float* beta) {
  if (const std::string reason = unsupported_reason(head); !reason.empty())
    fail("mask lab on the DMA kernels: {}", reason);
  const AttentionShape shape = shape_of(head);
  const bool same_plan = shape.q_len == shape_.q_len && shape.head_dim == shape_.head_dim &&
                         shape.scale == shape_.scale && head.window == window_;
  if (!same_plan) {  // runners and their graphs are per shape and budget
    for (auto& run : runs_) run.reset();
    shape_ = shape;
    window_ = head.window;
  }
  head_dim_ = head.head_dim;
  const std::size_t bytes = static_cast<std::size_t>(head.length * shape.head_dim) * 2;
  for (DeviceBuffer* buffer : {&query_, &key_, &value_})
    if (buffer->bytes() < bytes) *buffer = DeviceBuffer(bytes);
  // The pointers stay the same for a shape, so the captured graphs stay valid across heads.
  const float* sources[3] = {q, k, v};
  DeviceBuffer* targets[3] = {&query_, &key_, &value_};
  for (int n = 0; n < 3; ++n)
    detail::launch_rows_to_bf16(sources[n], head.length, static_cast<int>(head.head_dim),
                                static_cast<int>(shape.head_dim), targets[n]->as<__nv_bfloat16>(), nullptr);
  beta_ = beta;
  if (same_plan)
    for (auto& run : runs_)
      if (run) run->ran = false;
  // swa's and sinks' death arrays depend only on L and w: uploaded when their run is made (run_of).
}

LabDmaKernels::Run& LabDmaKernels::run_of(Strategy strategy) {
  std::unique_ptr<Run>& run = runs_[slot_of(strategy)];
  if (!run) {
    run = std::make_unique<Run>();
    const bool shared = strategy == Strategy::Shared;
    run->runner = std::make_unique<DmaRunner>(shape_, window_, shared ? MaskVariant::SharedTopK : MaskVariant::PerRowTopK);
    run->death = DeviceBuffer(static_cast<std::size_t>(shape_.key_len) * 4);
    run->out = DeviceBuffer(static_cast<std::size_t>(shape_.q_len * shape_.head_dim) * 2);
    if (strategy == Strategy::Swa || strategy == Strategy::Sinks) {
      const auto death = positional_death_indices(strategy, shape_.key_len, window_);
      run->death.upload(death.data(), death.size() * 4);
    }
  }
  return *run;
}

std::vector<double> LabDmaKernels::time(Strategy strategy, int warmup, int repeats) {
  if (beta_ == nullptr) fail("mask lab on the DMA kernels: no head loaded");
  Run& run = run_of(strategy);
  const bool from_beta = strategy == Strategy::Dma || strategy == Strategy::Shared;
  DmaRunner& runner = *run.runner;
  auto* death = run.death.as<std::int32_t>();
  const auto work = [&] {
    if (from_beta)
      runner.mask_and_forward(query_.get(), key_.get(), value_.get(), beta_, death, run.out.get());
    else
      runner.forward_death_graph(query_.get(), key_.get(), value_.get(), beta_, death, run.out.get());
  };
  std::vector<double> times = time_ms(work, warmup, repeats);
  run.ran = true;
  return times;
}

std::vector<std::int32_t> LabDmaKernels::death(Strategy strategy) const {
  const auto& run = runs_[slot_of(strategy)];
  if (!run || !run->ran) fail("mask lab on the DMA kernels: strategy {} has not run on this head", strategy_name(strategy));
  std::vector<std::int32_t> host(static_cast<std::size_t>(shape_.key_len));
  DMASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  run->death.download(host.data(), host.size() * 4);
  return host;
}

std::vector<float> LabDmaKernels::output(Strategy strategy) const {
  const auto& run = runs_[slot_of(strategy)];
  if (!run || !run->ran) fail("mask lab on the DMA kernels: strategy {} has not run on this head", strategy_name(strategy));
  const std::int64_t L = shape_.q_len, padded = shape_.head_dim;
  std::vector<std::uint16_t> bits(static_cast<std::size_t>(L * padded));
  DMASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  run->out.download(bits.data(), bits.size() * 2);
  std::vector<float> out(static_cast<std::size_t>(L * head_dim_));
  for (std::int64_t i = 0; i < L; ++i)
    for (std::int64_t c = 0; c < head_dim_; ++c)
      out[static_cast<std::size_t>(i * head_dim_ + c)] = bf16_to_f32(bf16{bits[static_cast<std::size_t>(i * padded + c)]});
  return out;
}

}  // namespace dmascope::cuda
