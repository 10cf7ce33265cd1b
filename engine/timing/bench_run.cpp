#include "engine/timing/bench_run.h"

#include "core/attention/tile_sizes.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>

#include "core/base/error.h"
#include "core/compute/timing_math.h"
#include "core/mask/bias_patterns.h"
#include "core/model/doge_forward.h"
#include "core/toy/toy_tasks.h"

namespace dmascope::engine {

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

// The dense kernel's workspace limit for the materialized baseline in a bench row, and its repeats (the GEMMs over
// L×L scores are slow at large L).
constexpr std::size_t kBenchMaterializedMaxBytes = std::size_t{4} << 30;
constexpr int kBenchMaterializedMaxRepeats = 3;

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

AttentionInputs bench_inputs(const BenchSetting& s) {
  AttentionInputs shape;
  shape.batch = s.batch;
  shape.q_heads = s.q_heads;
  shape.kv_heads = shape.bias_heads = s.kv_heads;
  shape.head_dim = s.head_dim;
  shape.window = s.window;
  shape.variant = MaskVariant::PerRowTopK;
  const BiasPattern pattern = s.bias == "model" ? BiasPattern::Random : bias_pattern_from_name(s.bias);
  AttentionInputs inputs = synthetic_attention_inputs(shape, s.length, pattern, s.seed);
  if (s.bias == "model") inputs.beta = bench_bias(s);
  return inputs;
}

TimingOptions bench_timing_options(const BenchSetting& s) {
  TimingOptions options;
  options.backend = s.backend;
  options.precision = s.precision;
  options.warmup = s.warmup;
  options.repeats = s.repeats;
  options.cpu_budget_ms = 0;
  options.cpu_tiles = {kTileRows, kTileKeys};
  options.baselines_with_bias = false;  // the baseline a user would otherwise run: plain causal attention
  options.cpu_materialized_max_bytes = 0;  // the CPU reference's L×L probabilities: not a bench baseline
  options.cuda_materialized_max_bytes = kBenchMaterializedMaxBytes;
  options.materialized_max_repeats = kBenchMaterializedMaxRepeats;
  options.detail = true;
  options.kernels = s.kernel;
  options.keep_dma_output = s.keep_dma_output;
  options.counters = s.counters;
  return options;
}

LayerTiming run_bench(const BenchSetting& s, const TimedVariant* cached_dense) {
  TimingOptions options = bench_timing_options(s);
  options.baselines = cached_dense == nullptr;
  const std::atomic<bool> never_cancelled{false};
  LayerTiming timing = time_attention(bench_inputs(s), options, never_cancelled);
  if (cached_dense) timing.dense = *cached_dense;
  return timing;
}

nlohmann::json bench_json(const BenchSetting& s, const LayerTiming& t) {
  auto tflops = [&](double pairs, double ms) { return attention_tflops_per_second(pairs, s.head_dim, ms); };
  const double dma_ms = t.dma_total.median_ms, dense_ms = t.dense.median_ms;
  nlohmann::json j = {{"backend", backend_name(s.backend)}, {"device", t.device_name}, {"len", s.length},
                      {"window", s.window}, {"q_heads", s.q_heads}, {"kv_heads", s.kv_heads}, {"dim", s.head_dim},
                      {"batch", s.batch}, {"bias", s.bias},
                      {"precision", std::string(s.backend == Backend::Cpu ? "fp32" : precision_name(s.precision))},
                      {"repeats", s.repeats}, {"dma_ms", dma_ms}, {"mask_build_ms", t.mask_build.median_ms},
                      {"dense_ms", dense_ms}, {"dma_spread_ms", t.dma_total.spread_ms},
                      {"dense_spread_ms", t.dense.spread_ms}, {"tile_density", t.tile_density},
                      {"token_density", t.token_density}, {"speedup_vs_dense", dense_ms / dma_ms},
                      {"ideal_speedup", 1.0 / t.token_density},
                      {"dma_useful_tflops", tflops(t.dma_total.useful_pairs, dma_ms)},
                      {"dma_executed_tflops", tflops(t.dma_total.executed_pairs, dma_ms)},
                      {"dense_tflops", tflops(t.dense.useful_pairs, dense_ms)}};
  if (!t.forward_kernel.empty()) j["forward_kernel"] = t.forward_kernel;
  if (s.backend == Backend::Cuda) j["kernel_choice"] = kernel_choice_name(s.kernel);
  if (t.materialized.measured) j["materialized_ms"] = t.materialized.median_ms;
  if (t.dma_launched.measured) j["dma_launched_ms"] = t.dma_launched.median_ms;
  if (t.mask_and_lists.measured) j["mask_and_gather_ms"] = t.mask_and_lists.median_ms;
  if (t.dma_total_counted.measured && !t.kernel_counters.empty()) {
    // The kernel's own account of its work (all query heads and batches), and what counting cost.
    const KernelCounters& c = t.kernel_counters;
    double executed = 0, dense = 0, keys = 0;
    std::int32_t max_keys = 0;
    for (std::int64_t slot = 0; slot < c.batch * c.q_heads; ++slot) {
      const GatheredWork work = gathered_work_from_counters(c, slot);
      executed += work.executed_pairs;
      dense += work.dense_pairs;
      keys += work.mean_keys_per_tile();
      max_keys = std::max(max_keys, work.max_keys_per_tile());
    }
    j["dma_counted_ms"] = t.dma_total_counted.median_ms;
    j["dma_counted_spread_ms"] = t.dma_total_counted.spread_ms;
    j["counters_overhead"] = dma_ms > 0 ? t.dma_total_counted.median_ms / dma_ms - 1 : 0;
    j["counted_keys_per_tile_mean"] = keys / static_cast<double>(c.batch * c.q_heads);
    j["counted_keys_per_tile_max"] = max_keys;
    j["counted_executed_pairs"] = executed;
    j["counted_dense_pairs"] = dense;
  }
  if (s.bias == "model")
    j["bias_source"] = fmt::format("layer 0 of {} on {}", s.bias_model, bias_model_tokens(s.bias_model));
  return j;
}

}  // namespace dmascope::engine
