#include <algorithm>
#include <cmath>
#include <chrono>
#include <functional>

#include <fmt/format.h>

#include "app/gui/layer_timing.h"
#include "core/bias_patterns.h"
#include "core/parallel.h"

namespace dmascope::gui {

namespace {

constexpr double kTimingBudgetMs = 2000.0;  // per variant, after the warm-up
constexpr int kMaxRepeats = 9;

struct Samples {
  double median = 0, spread = 0;
  int count = 0;
};

Samples time_repeated(const std::function<void()>& work, const std::atomic<bool>& cancel) {
  using Clock = std::chrono::steady_clock;
  auto timed = [&] {
    const auto start = Clock::now();
    work();
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  const double warmup_ms = timed();
  const int repeats = std::clamp(static_cast<int>(kTimingBudgetMs / std::max(warmup_ms, 1e-3)), 1, kMaxRepeats);
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    if (cancel.load()) throw ForwardCancelled{};
    times.push_back(timed());
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.back() - times.front(), repeats};
}

}  // namespace

LayerTiming time_layer_cpu(const PipelineResult& result, std::int64_t layer, const std::atomic<bool>& cancel) {
  const LayerCapture& capture = result.forward.layers.at(static_cast<std::size_t>(layer));
  const DogeConfig& config = result.model->model.config;
  const std::int64_t L = result.length(), H = config.num_attention_heads, Hkv = config.num_key_value_heads;
  const std::int64_t d = config.head_dim, Hb = result.bias_heads();

  // The captured v is [L, Hkv·d]; the kernel wants [Hkv, L, d].
  const float* v_tokens = capture.v.data<float>();
  std::vector<float> v_heads(static_cast<std::size_t>(Hkv * L * d));
  for (std::int64_t p = 0; p < L; ++p)
    for (std::int64_t g = 0; g < Hkv; ++g)
      std::copy_n(v_tokens + (p * Hkv + g) * d, d, v_heads.begin() + (g * L + p) * d);
  const std::vector<float> beta = capture.dyn_bias.to_f32_vector();
  std::vector<std::int32_t> death(static_cast<std::size_t>(Hb * L));

  AttentionProblem problem;
  problem.q_heads = H;
  problem.kv_heads = Hkv;
  problem.bias_heads = Hb;
  problem.q_len = problem.key_len = L;
  problem.head_dim = d;
  problem.scale = 1.0f / std::sqrt(static_cast<float>(d));
  problem.q = capture.q_rope.data<float>();
  problem.k = capture.k_rope.data<float>();
  problem.v = v_heads.data();
  problem.beta = beta.data();
  std::vector<float> out(static_cast<std::size_t>(H * L * d));
  const TileShape tiles{result.settings.tile_size, result.settings.tile_size};

  LayerTiming timing;
  timing.generation = result.generation;
  timing.layer = layer;
  timing.device = fmt::format("CPU, {} threads, fp32", worker_count());
  const Samples mask = time_repeated(
      [&] {
        for (std::int64_t b = 0; b < Hb; ++b) {
          const auto one = dma_death_indices(std::span<const float>(beta.data() + b * L, L), result.forward.window,
                                             result.settings.mask_variant);
          std::copy(one.begin(), one.end(), death.begin() + b * L);
        }
      },
      cancel);
  problem.death = death.data();
  AttentionWork work;
  const Samples dma = time_repeated([&] { work = attention_tiled(problem, tiles, out.data()); }, cancel);
  problem.death = nullptr;
  const Samples dense = time_repeated([&] { attention_tiled(problem, tiles, out.data()); }, cancel);

  timing.repeats = dma.count;
  timing.mask_build_ms = mask.median;
  timing.dma_ms = dma.median;
  timing.dma_spread_ms = dma.spread;
  timing.dense_ms = dense.median;
  timing.dense_spread_ms = dense.spread;
  double kept = 0, active_tiles = 0, causal_tiles = 0;
  for (std::int64_t b = 0; b < Hb; ++b) {
    const TileMap& map = result.tile_map(layer, b);
    kept += static_cast<double>(map.kept_entries);
    active_tiles += static_cast<double>(map.partial + map.full);
    causal_tiles += static_cast<double>(map.causal_tiles);
  }
  timing.dense_pairs = causal_pairs(L, L) * static_cast<double>(H);
  timing.useful_pairs = kept * static_cast<double>(H / Hb);
  timing.executed_pairs = static_cast<double>(work.score_entries);
  timing.token_density = timing.dense_pairs > 0 ? timing.useful_pairs / timing.dense_pairs : 0;
  timing.tile_density = causal_tiles > 0 ? active_tiles / causal_tiles : 0;
  return timing;
}

}  // namespace dmascope::gui
