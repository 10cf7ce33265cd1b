// kernel_check for CDMoE (tests/support/cdmoe_kernel_checks.h). Synchronous, on the legacy default stream; outputs
// are poisoned first (NaN weights, −1 ids), so an element a kernel forgets cannot pass.
#include "tests/support/cdmoe_kernel_checks.h"

#include <algorithm>

#include "core/base/error.h"
#include "core/formats/tensor.h"
#include "kernels/cdmoe_kernels.cuh"
#include "kernels/cuda_check.h"
#include "kernels/dma_cuda.h"
#include "tests/support/device_upload.h"

namespace dmascope::cuda::kernel_check {

namespace {

// Values that must already be bf16 (the caller's inputs of a bf16 check) as bf16 bits on the device.
DeviceBuffer to_device_bf16(const std::vector<float>& host) {
  std::vector<std::uint16_t> bits(host.size());
  for (std::size_t i = 0; i < host.size(); ++i) {
    bits[i] = f32_to_bf16(host[i]).bits;
    if (!(bf16_to_f32(bf16{bits[i]}) == host[i]) && host[i] == host[i])
      fail("kernel_check: input value {} at {} is not a bf16 value", host[i], i);
  }
  return to_device(bits);
}

std::vector<float> widen_bf16(const DeviceBuffer& buffer, std::size_t count) {
  std::vector<std::uint16_t> bits(count);
  if (count) buffer.download(bits.data(), count * 2);
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = bf16_to_f32(bf16{bits[i]});
  return values;
}

detail::CdmoeRoutingPlan plan_of(const CdmoeRouting& shape) {
  DogeConfig config;
  config.is_moe = true;
  config.num_experts = shape.keys * shape.keys;
  config.num_experts_per_tok = shape.experts_per_token;
  config.norm_topk_prob = shape.norm_topk_prob;
  detail::CdmoeRoutingPlan plan = detail::cdmoe_routing_plan(config);
  detail::configure_cdmoe_kernels(plan);
  return plan;
}

}  // namespace

CdmoeChoices cdmoe_route(const std::vector<float>& router_logits, const CdmoeRouting& shape, CdmoeRounding rounding) {
  const detail::CdmoeRoutingPlan plan = plan_of(shape);
  const auto choices = static_cast<std::size_t>(shape.tokens * shape.experts_per_token);
  DeviceBuffer ids(std::max<std::size_t>(choices * 4, 1)), weights(std::max<std::size_t>(choices * 4, 1));
  ids.fill_bytes(0xFF);
  weights.fill_bytes(0xFF);
  const int tokens = static_cast<int>(shape.tokens);
  if (rounding == CdmoeRounding::Bf16) {
    const DeviceBuffer logits = to_device_bf16(router_logits);
    detail::launch_cdmoe_route(plan, logits.as<detail::bf16_t>(), tokens, ids.as<std::int32_t>(), weights.as<float>(),
                               nullptr);
  } else {
    const DeviceBuffer logits = to_device(router_logits);
    detail::launch_cdmoe_route(plan, logits.as<float>(), tokens, ids.as<std::int32_t>(), weights.as<float>(), nullptr);
  }
  DMASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  CdmoeChoices result;
  result.expert_ids.resize(choices);
  result.routing_weights.resize(choices);
  if (choices) {
    ids.download(result.expert_ids.data(), choices * 4);
    weights.download(result.routing_weights.data(), choices * 4);
  }
  return result;
}

std::vector<float> cdmoe_add_experts(const std::vector<float>& h, const CdmoeRouting& shape, std::int64_t hidden,
                                     const std::vector<float>& down_embed, const std::vector<float>& up_embed,
                                     const CdmoeChoices& choices, CdmoeRounding rounding, std::vector<float> y) {
  const detail::CdmoeRoutingPlan plan = plan_of(shape);
  const DeviceBuffer ids = to_device(choices.expert_ids), weights = to_device(choices.routing_weights);
  const int rows = static_cast<int>(shape.tokens), width = static_cast<int>(hidden);
  if (rounding == CdmoeRounding::Bf16) {
    const DeviceBuffer h_device = to_device_bf16(h), down = to_device_bf16(down_embed), up = to_device_bf16(up_embed);
    DeviceBuffer y_device = to_device_bf16(y);
    DeviceBuffer flag = to_device(std::vector<int>{0});
    detail::launch_cdmoe_add_experts(plan, h_device.as<detail::bf16_t>(), rows, width, down.as<detail::bf16_t>(),
                                     up.as<detail::bf16_t>(), ids.as<std::int32_t>(), weights.as<float>(),
                                     y_device.as<detail::bf16_t>(), flag.as<int>(), nullptr);
    DMASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
    return widen_bf16(y_device, y.size());
  }
  const DeviceBuffer h_device = to_device(h), down = to_device(down_embed), up = to_device(up_embed);
  DeviceBuffer y_device = to_device(y);
  detail::launch_cdmoe_add_experts(plan, h_device.as<float>(), rows, width, down.as<float>(), up.as<float>(),
                                   ids.as<std::int32_t>(), weights.as<float>(), y_device.as<float>(), nullptr);
  DMASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  if (!y.empty()) y_device.download(y.data(), y.size() * sizeof(float));
  return y;
}

}  // namespace dmascope::cuda::kernel_check
