#include "engine/timing/bench_output_file.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/base/error.h"
#include "core/formats/atomic_write.h"
#include "core/formats/safetensors.h"

namespace dmascope::engine {

std::vector<std::int64_t> sampled_rows(std::int64_t length, std::int64_t count) {
  std::vector<std::int64_t> rows;
  if (length <= 0 || count <= 0) return rows;
  if (count >= length) {
    for (std::int64_t i = 0; i < length; ++i) rows.push_back(i);
    return rows;
  }
  // Evenly spaced from the first stride on, so that the last sample is the last row.
  for (std::int64_t n = 1; n <= count; ++n) rows.push_back(n * length / count - 1);
  return rows;
}

namespace {

// The rows `rows` of a [B·H, L, d] tensor, as [B·H, n, d].
std::vector<float> gather_rows(const std::vector<float>& values, std::int64_t heads, std::int64_t length,
                               std::int64_t dim, const std::vector<std::int64_t>& rows) {
  std::vector<float> picked;
  picked.reserve(static_cast<std::size_t>(heads) * rows.size() * static_cast<std::size_t>(dim));
  for (std::int64_t h = 0; h < heads; ++h)
    for (const std::int64_t row : rows) {
      const auto begin = values.begin() + (h * length + row) * dim;
      picked.insert(picked.end(), begin, begin + dim);
    }
  return picked;
}

}  // namespace

void write_bench_output(const std::filesystem::path& path, const BenchSetting& s, const AttentionInputs& in,
                        const LayerTiming& timing, std::int64_t sample_count, bool force) {
  const std::int64_t B = in.batch, Hq = in.q_heads, Hkv = in.kv_heads, Hb = in.bias_heads, L = in.length,
                     d = in.head_dim;
  if (timing.dma_output.size() != in.q.size())
    fail("bench --save-output: the run kept {} output values, the inputs need {} (B {}, Hq {}, L {}, d {})",
         timing.dma_output.size(), in.q.size(), B, Hq, L, d);
  const OutputRule rule{.force = force, .inputs = {}};
  check_output_target(path, rule);
  const std::vector<std::int64_t> rows = sampled_rows(L, sample_count);
  const auto n = static_cast<std::int64_t>(rows.size());
  // The CPU computes in fp32; the CUDA kernels read the inputs rounded to their precision.
  const DType input_dtype = s.backend == Backend::Cpu        ? DType::F32
                            : s.precision == Precision::BF16 ? DType::BF16
                                                             : DType::F16;
  std::vector<std::pair<std::string, Tensor>> tensors;
  tensors.emplace_back("rows", Tensor::from_vector(rows, {n}));
  tensors.emplace_back("q_rows", Tensor::from_vector(gather_rows(in.q, B * Hq, L, d, rows), {B, Hq, n, d}).to(input_dtype));
  tensors.emplace_back("k", Tensor::from_vector(in.k, {B, Hkv, L, d}).to(input_dtype));
  tensors.emplace_back("v", Tensor::from_vector(in.v, {B, Hkv, L, d}).to(input_dtype));
  tensors.emplace_back("beta", Tensor::from_vector(in.beta, {B, Hb, L}));
  tensors.emplace_back("out_rows", Tensor::from_vector(gather_rows(timing.dma_output, B * Hq, L, d, rows), {B, Hq, n, d}));
  const std::map<std::string, std::string> metadata = {
      {"len", std::to_string(L)},
      {"window", std::to_string(in.window)},
      {"heads", fmt::format("{}/{}", Hq, Hkv)},
      {"dim", std::to_string(d)},
      {"batch", std::to_string(B)},
      {"bias", s.bias},
      {"seed", std::to_string(s.seed)},
      {"precision", std::string(input_dtype == DType::F32 ? "fp32" : precision_name(s.precision))},
      {"mask_variant", std::string(mask_variant_name(in.variant))},
      {"tie_rule", "beta descending, then lower index"},
      {"device", timing.device},
      {"producer", "dmascope-cli bench --save-output"}};
  write_safetensors(path, tensors, metadata, rule);
}

}  // namespace dmascope::engine
