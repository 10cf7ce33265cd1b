// kernel_check (tests/support/doge_forward_kernel_checks.h): each GPU forward kernel alone on host vectors, for the
// tests that compare it with its CPU twin. Synchronous, on the legacy default stream.
#include "tests/support/doge_forward_kernel_checks.h"

#include <algorithm>

#include "core/base/error.h"
#include "core/attention/tile_sizes.h"
#include "kernels/cuda_check.h"
#include "kernels/dma_cuda.h"
#include "tests/support/device_upload.h"
#include "kernels/doge_forward_kernels.cuh"
#include "kernels/mask_build.cuh"
#include "kernels/tile_map.cuh"

namespace dmascope::cuda::kernel_check {

namespace {

// A device output poisoned with NaN bytes (0xFF), so that an element the kernel forgets cannot pass.
DeviceBuffer poisoned(std::size_t count) {
  DeviceBuffer buffer(std::max<std::size_t>(count * sizeof(float), 1));
  buffer.fill_bytes(0xFF);
  return buffer;
}

std::vector<float> to_host(const DeviceBuffer& buffer, std::size_t count) {
  DMASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<float> host(count);
  if (count) buffer.download(host.data(), count * sizeof(float));
  return host;
}

}  // namespace

std::vector<float> rms_norm(const std::vector<float>& x, std::int64_t rows, std::int64_t features,
                            const std::vector<float>& weight, double eps) {
  const DeviceBuffer x_device = to_device(x), weight_device = to_device(weight);
  DeviceBuffer y = poisoned(x.size());
  detail::launch_rms_norm(x_device.as<float>(), rows, static_cast<int>(features), weight_device.as<float>(),
                          static_cast<float>(eps), y.as<float>(), nullptr);
  return to_host(y, x.size());
}

std::vector<float> rope_heads_first(const std::vector<float>& x, std::int64_t length, std::int64_t heads,
                                    std::int64_t head_dim, const std::vector<float>& inverse_frequencies) {
  const DeviceBuffer x_device = to_device(x), frequencies = to_device(inverse_frequencies);
  DeviceBuffer y = poisoned(x.size());
  detail::launch_rope_heads_first(x_device.as<float>(), static_cast<int>(length), static_cast<int>(heads),
                                  static_cast<int>(head_dim), frequencies.as<float>(), y.as<float>(), nullptr);
  return to_host(y, x.size());
}

std::vector<float> dynamic_bias(const std::vector<float>& dt, std::int64_t length, std::int64_t bias_heads,
                                const std::vector<float>& A, BiasFormula formula) {
  const DeviceBuffer dt_device = to_device(dt), A_device = to_device(A);
  DeviceBuffer beta = poisoned(dt.size());
  detail::launch_dynamic_bias(dt_device.as<float>(), static_cast<int>(length), static_cast<int>(bias_heads),
                              A_device.as<float>(), formula == BiasFormula::Exp, beta.as<float>(), nullptr);
  return to_host(beta, dt.size());
}

std::vector<float> residual(const std::vector<float>& x, const std::vector<float>& residual_weight,
                            const std::vector<float>& update, std::int64_t rows, std::int64_t features) {
  DeviceBuffer x_device = to_device(x);
  const DeviceBuffer weight_device = to_device(residual_weight), update_device = to_device(update);
  detail::launch_residual(x_device.as<float>(), weight_device.as<float>(), update_device.as<float>(), rows,
                          static_cast<int>(features), nullptr);
  return to_host(x_device, x.size());
}

std::vector<float> silu_gate(const std::vector<float>& gate, const std::vector<float>& up) {
  DeviceBuffer gate_device = to_device(gate);
  const DeviceBuffer up_device = to_device(up);
  detail::launch_silu_gate(gate_device.as<float>(), up_device.as<float>(), static_cast<long long>(gate.size()),
                           nullptr);
  return to_host(gate_device, gate.size());
}

std::vector<float> attention(const AttentionProblem& problem, std::int64_t window) {
  problem.validate();
  if (problem.batch != 1 || problem.q_len != problem.key_len || !problem.death || !problem.beta)
    fail("kernel_check::attention: batch 1, q_len == key_len, with β and a death array");
  const std::int64_t L = problem.key_len, d = problem.head_dim;
  const std::int64_t H = problem.q_heads, Hkv = problem.kv_heads, Hb = problem.bias_heads;
  const auto copy = [](const float* values, std::int64_t count) { return std::vector<float>(values, values + count); };
  const DeviceBuffer q = to_device(copy(problem.q, H * L * d)), k = to_device(copy(problem.k, Hkv * L * d));
  const DeviceBuffer v = to_device(copy(problem.v, Hkv * L * d)), beta = to_device(copy(problem.beta, Hb * L));
  const DeviceBuffer death =
      to_device(std::vector<std::int32_t>(problem.death, problem.death + static_cast<std::size_t>(Hb * L)));
  const int q_tiles = static_cast<int>((L + kTileRows - 1) / kTileRows);
  const int capacity = static_cast<int>(std::min<std::int64_t>(L, window + kTileRows));
  DeviceBuffer lists(static_cast<std::size_t>(Hb) * q_tiles * capacity * 4), counts(static_cast<std::size_t>(Hb) * q_tiles * 4);
  detail::launch_gather_lists(death.as<std::int32_t>(), static_cast<int>(Hb), static_cast<int>(L), static_cast<int>(L),
                              q_tiles, capacity, lists.as<std::int32_t>(), counts.as<std::int32_t>(), nullptr);
  DeviceBuffer out = poisoned(static_cast<std::size_t>(H * L * d));
  detail::AttentionF32Params p;
  p.q = q.as<float>();
  p.k = k.as<float>();
  p.v = v.as<float>();
  p.beta = beta.as<float>();
  p.death = death.as<std::int32_t>();
  p.lists = lists.as<std::int32_t>();
  p.counts = counts.as<std::int32_t>();
  p.out = out.as<float>();
  p.q_head_stride = p.k_head_stride = p.v_head_stride = p.out_head_stride = L * d;
  p.q_row_stride = p.k_row_stride = p.v_row_stride = p.out_row_stride = d;
  p.q_heads = static_cast<int>(H);
  p.kv_heads = static_cast<int>(Hkv);
  p.bias_heads = static_cast<int>(Hb);
  p.length = static_cast<int>(L);
  p.head_dim = static_cast<int>(d);
  p.q_tiles = q_tiles;
  p.capacity = capacity;
  p.scale = problem.scale;
  detail::launch_attention_f32(p, nullptr);
  return to_host(out, static_cast<std::size_t>(H * L * d));
}

TileMap tile_map(const std::vector<std::int32_t>& death, TileShape shape) {
  const std::int64_t L = static_cast<std::int64_t>(death.size());
  TileMap map;
  map.shape = shape;
  map.q_tiles = (L + shape.rows - 1) / shape.rows;
  map.k_tiles = (L + shape.cols - 1) / shape.cols;
  const DeviceBuffer death_device = to_device(death);
  DeviceBuffer status(std::max<std::size_t>(static_cast<std::size_t>(map.q_tiles * map.k_tiles), 1));
  status.fill_bytes(0xEE);  // poison: not a TileStatus
  DeviceBuffer counters(detail::kTileMapCounters * sizeof(unsigned long long));
  counters.fill_bytes(0);
  detail::launch_tile_map(death_device.as<std::int32_t>(), 1, static_cast<int>(L), static_cast<int>(shape.rows),
                          static_cast<int>(shape.cols), status.as<std::uint8_t>(), counters.as<unsigned long long>(),
                          nullptr);
  DMASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  map.status.resize(static_cast<std::size_t>(map.q_tiles * map.k_tiles));
  status.download(map.status.data(), map.status.size());
  unsigned long long values[detail::kTileMapCounters];
  counters.download(values, sizeof(values));
  map.skipped = static_cast<std::int64_t>(values[0]);
  map.partial = static_cast<std::int64_t>(values[1]);
  map.full = static_cast<std::int64_t>(values[2]);
  map.causal_tiles = static_cast<std::int64_t>(values[3]);
  map.kept_entries = static_cast<std::int64_t>(values[4]);
  map.causal_entries = static_cast<std::int64_t>(values[5]);
  return map;
}

}  // namespace dmascope::cuda::kernel_check
