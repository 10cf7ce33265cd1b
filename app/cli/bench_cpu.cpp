#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "app/cli/bench.h"
#include "core/attention/attention_cpu.h"
#include "core/attention/tile_sizes.h"
#include "core/mask/bias_patterns.h"
#include "core/mask/dma_mask.h"
#include "core/model/doge_forward.h"
#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/toy/toy_tasks.h"

namespace dmascope::cli {

double median_of(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

namespace {

double spread_of(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::max_element(values.begin(), values.end()) - *std::min_element(values.begin(), values.end());
}

template <class Work>
std::vector<double> time_cpu_ms(Work&& work, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) work();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return times;
}

}  // namespace

namespace {

// A document of `length` tokens for a model's bias: for the bundled toy models (their vocabulary), training-format
// task examples (mqar, needle, copy in turn) laid end to end, so that β is what the model computes on the kind of
// text it learned; for any other model, uniform random tokens.
std::vector<std::int32_t> bias_document(const DogeModel& model, std::int64_t length, std::uint64_t seed) {
  std::vector<std::int32_t> ids;
  ids.reserve(static_cast<std::size_t>(length));
  if (model.config.vocab_size == toy_vocab::kSize) {
    ToyTaskSettings settings;
    settings.length = 256;
    const ToyTask tasks[] = {ToyTask::Mqar, ToyTask::Needle, ToyTask::Copy};
    for (std::uint64_t index = 0; static_cast<std::int64_t>(ids.size()) < length; ++index) {
      const ToyExample example = make_toy_example(tasks[index % 3], settings, seed, index);
      const std::size_t take = std::min(example.ids.size(), static_cast<std::size_t>(length) - ids.size());
      ids.insert(ids.end(), example.ids.begin(), example.ids.begin() + static_cast<std::ptrdiff_t>(take));
    }
    return ids;
  }
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(model.config.vocab_size - 1));
  for (std::int64_t p = 0; p < length; ++p) ids.push_back(token(rng));
  return ids;
}

}  // namespace

std::string bias_model_tokens(const std::string& model_dir) {
  return DogeConfig::load(std::filesystem::path(model_dir) / "config.json").vocab_size == toy_vocab::kSize
             ? "toy task examples"
             : "random tokens";
}

// β of layer 0 of a real model. Segment (b, h) — batch b, kv head h — is the model's bias head h mod Hb on document
// b·⌈Hkv/Hb⌉ + h div Hb: every segment is a β the model computed, and a shape with more kv heads than the model has
// bias heads reads more documents instead of repeating one.
std::vector<float> bench_bias(const BenchSetting& s) {
  const std::int64_t segments = s.batch * s.kv_heads;
  if (s.bias != "model") return make_bias(bias_pattern_from_name(s.bias), segments, s.length, s.seed);
  if (s.bias_model.empty()) fail("bench: --bias model needs --bias-model DIR");
  const DogeModel model = DogeModel::load(s.bias_model);
  const std::int64_t model_heads = model.weights.bias_heads;
  const std::int64_t documents_per_batch = (s.kv_heads + model_heads - 1) / model_heads;
  std::vector<float> beta;
  beta.reserve(static_cast<std::size_t>(segments * s.length));
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t document = 0; document < documents_per_batch; ++document) {
      const auto ids = bias_document(model, s.length, s.seed + static_cast<std::uint64_t>(b * documents_per_batch + document));
      const auto layer_beta = doge_layer_bias(model, ids, 0);  // [Hb, L]
      for (std::int64_t head = 0; head < model_heads && document * model_heads + head < s.kv_heads; ++head)
        beta.insert(beta.end(), layer_beta.begin() + head * s.length, layer_beta.begin() + (head + 1) * s.length);
    }
  return beta;
}

BenchResult run_bench_cpu(const BenchSetting& s) {
  BenchResult result;
  result.device = fmt::format("CPU, {} threads", worker_count());
  result.forward_kernel = "tiled CPU";
  const std::int64_t L = s.length, d = s.head_dim;
  std::mt19937 rng(static_cast<std::uint32_t>(s.seed + 1));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto random_vector = [&](std::int64_t count) {
    std::vector<float> values(static_cast<std::size_t>(count));
    for (auto& value : values) value = normal(rng);
    return values;
  };
  const auto q = random_vector(s.batch * s.q_heads * L * d);
  const auto k = random_vector(s.batch * s.kv_heads * L * d);
  const auto v = random_vector(s.batch * s.kv_heads * L * d);
  const auto beta = bench_bias(s);
  const std::int64_t segments = s.batch * s.kv_heads;
  std::vector<std::int32_t> death(static_cast<std::size_t>(segments * L));
  auto build_mask = [&] {
    parallel_for(segments, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t seg = begin; seg < end; ++seg) {
        const auto one = dma_death_indices(std::span<const float>(beta.data() + seg * L, L), s.window);
        std::copy(one.begin(), one.end(), death.begin() + seg * L);
      }
    });
  };
  AttentionProblem problem;
  problem.batch = s.batch;
  problem.q_heads = s.q_heads;
  problem.kv_heads = problem.bias_heads = s.kv_heads;
  problem.q_len = problem.key_len = L;
  problem.head_dim = d;
  problem.scale = 1.0f / std::sqrt(static_cast<float>(d));
  problem.q = q.data();
  problem.k = k.data();
  problem.v = v.data();
  problem.beta = beta.data();
  std::vector<float> out(q.size());
  AttentionWork work;
  const auto mask_times = time_cpu_ms(build_mask, s.warmup, s.repeats);
  problem.death = death.data();
  const auto dma_times = time_cpu_ms(
      [&] {
        build_mask();
        work = attention_tiled(problem, TileShape{kTileRows, kTileKeys}, out.data());
      },
      s.warmup, s.repeats);
  problem.death = nullptr;
  problem.beta = nullptr;
  const auto dense_times = time_cpu_ms([&] { attention_tiled(problem, TileShape{kTileRows, kTileKeys}, out.data()); }, s.warmup,
                                       s.repeats);
  result.mask_build_ms = median_of(mask_times);
  result.dma_ms = median_of(dma_times);
  result.dense_ms = median_of(dense_times);
  result.dma_spread_ms = spread_of(dma_times);
  result.dense_spread_ms = spread_of(dense_times);
  add_mask_densities(s, death, result);
  result.executed_pairs = static_cast<double>(work.score_entries);
  return result;
}

void add_mask_densities(const BenchSetting& s, std::span<const std::int32_t> death, BenchResult& result) {
  const std::int64_t L = s.length;
  double tiles_active = 0, tiles_causal = 0, kept = 0;
  for (std::int64_t seg = 0; seg < s.batch * s.kv_heads; ++seg) {
    const TileMap map = build_tile_map(death.data() + seg * L, L, L, TileShape{kTileRows, kTileKeys});
    tiles_active += static_cast<double>(map.partial + map.full);
    tiles_causal += static_cast<double>(map.causal_tiles);
    kept += static_cast<double>(map.kept_entries);
  }
  result.tile_density = tiles_active / tiles_causal;
  result.dense_pairs = causal_pairs(L, L) * static_cast<double>(s.batch * s.q_heads);
  result.useful_pairs = kept * static_cast<double>(s.q_heads / s.kv_heads);  // each query head of a kv head's group
  result.token_density = result.useful_pairs / result.dense_pairs;
}

nlohmann::json bench_json(const BenchSetting& s, const BenchResult& r) {
  auto tflops = [&](double pairs, double ms) { return ms > 0 ? attention_flops(pairs, s.head_dim) / (ms * 1e9) : 0.0; };
  nlohmann::json j = {{"backend", s.backend}, {"device", r.device}, {"len", s.length}, {"window", s.window},
                      {"q_heads", s.q_heads}, {"kv_heads", s.kv_heads}, {"dim", s.head_dim}, {"batch", s.batch},
                      {"bias", s.bias}, {"precision", s.backend == "cpu" ? "fp32" : s.precision},
                      {"repeats", s.repeats}, {"dma_ms", r.dma_ms}, {"mask_build_ms", r.mask_build_ms},
                      {"dense_ms", r.dense_ms}, {"dma_spread_ms", r.dma_spread_ms},
                      {"dense_spread_ms", r.dense_spread_ms}, {"tile_density", r.tile_density},
                      {"token_density", r.token_density}, {"speedup_vs_dense", r.dense_ms / r.dma_ms},
                      {"ideal_speedup", 1.0 / r.token_density},
                      {"dma_useful_tflops", tflops(r.useful_pairs, r.dma_ms)},
                      {"dma_executed_tflops", tflops(r.executed_pairs, r.dma_ms)},
                      {"dense_tflops", tflops(r.dense_pairs, r.dense_ms)}};
  if (!r.forward_kernel.empty()) j["forward_kernel"] = r.forward_kernel;
  if (s.backend == "cuda") j["kernel_choice"] = kernel_choice_name(s.kernel);
  if (r.materialized_ms >= 0) j["materialized_ms"] = r.materialized_ms;
  if (r.dma_launched_ms >= 0) j["dma_launched_ms"] = r.dma_launched_ms;
  if (r.mask_and_gather_ms >= 0) j["mask_and_gather_ms"] = r.mask_and_gather_ms;
  if (s.bias == "model")
    j["bias_source"] = fmt::format("layer 0 of {} on {}", s.bias_model, bias_model_tokens(s.bias_model));
  return j;
}

}  // namespace dmascope::cli
