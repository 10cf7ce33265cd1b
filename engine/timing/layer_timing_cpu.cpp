// The CPU side of the Timing view: the tiled kernel (fp32) with and without the mask, and the reference that writes
// the whole [Hq, L, L] probability tensor as the materialized baseline. Wall-clock (steady_clock) timing: one warm-up
// run, then repeats until about cpu_budget_ms are spent (at least one, at most cpu_max_repeats).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "engine/timing/layer_timing.h"
#include "engine/timing/timing_math.h"
#include "core/base/parallel.h"

namespace dmascope::engine {

namespace {

TimedVariant time_repeated(const std::function<void()>& work, const TimingOptions& options,
                           const std::atomic<bool>& cancel, int* repeats_done) {
  using Clock = std::chrono::steady_clock;
  auto timed = [&] {
    const auto start = Clock::now();
    work();
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  if (cancel.load()) throw ForwardCancelled{};
  const double warmup_ms = timed();
  const int repeats =
      std::clamp(static_cast<int>(options.cpu_budget_ms / std::max(warmup_ms, 1e-3)), 1, options.cpu_max_repeats);
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    if (cancel.load()) throw ForwardCancelled{};
    times.push_back(timed());
  }
  std::sort(times.begin(), times.end());
  if (repeats_done) *repeats_done = repeats;
  TimedVariant variant;
  variant.measured = true;
  variant.median_ms = times[times.size() / 2];
  variant.spread_ms = times.back() - times.front();
  return variant;
}

}  // namespace

LayerTiming time_attention_cpu(const AttentionInputs& in, const TimingOptions& options, const std::atomic<bool>& cancel) {
  const std::int64_t L = in.length, H = in.q_heads, Hb = in.bias_heads, d = in.head_dim;
  AttentionProblem problem;
  problem.q_heads = H;
  problem.kv_heads = in.kv_heads;
  problem.bias_heads = Hb;
  problem.q_len = problem.key_len = L;
  problem.head_dim = d;
  problem.scale = 1.0f / std::sqrt(static_cast<float>(d));
  problem.q = in.q.data();
  problem.k = in.k.data();
  problem.v = in.v.data();
  problem.beta = in.beta.data();
  std::vector<float> out(static_cast<std::size_t>(H * L * d));
  std::vector<std::int32_t> death(static_cast<std::size_t>(Hb * L));

  LayerTiming timing;
  timing.device = fmt::format("CPU, {} threads, fp32", worker_count());
  timing.length = L;
  timing.window = in.window;
  timing.head_dim = d;
  timing.q_heads = H;
  timing.mask_build = time_repeated(
      [&] {
        for (std::int64_t b = 0; b < Hb; ++b) {
          const auto one = dma_death_indices(std::span<const float>(in.beta.data() + b * L, L), in.window, in.variant);
          std::copy(one.begin(), one.end(), death.begin() + b * L);
        }
      },
      options, cancel, nullptr);
  problem.death = death.data();
  AttentionWork work;
  timing.dma = time_repeated([&] { work = attention_tiled(problem, options.cpu_tiles, out.data()); }, options, cancel,
                             &timing.repeats);
  timing.dma.executed_pairs = static_cast<double>(work.score_entries);
  timing.dma.useful_pairs = static_cast<double>(work.kept_entries);
  const double causal = causal_pairs(L, L) * static_cast<double>(H);
  timing.token_density = causal > 0 ? timing.dma.useful_pairs / causal : 0;
  if (!options.baselines) return timing;

  problem.death = nullptr;
  timing.dense = time_repeated([&] { work = attention_tiled(problem, options.cpu_tiles, out.data()); }, options,
                               cancel, nullptr);
  timing.dense.executed_pairs = static_cast<double>(work.score_entries);
  timing.dense.useful_pairs = causal;

  const std::size_t probs_bytes = cpu_materialized_bytes(H, L);
  if (probs_bytes > options.cpu_materialized_max_bytes) {
    timing.materialized.skipped_why =
        fmt::format("the [Hq, L, L] fp32 probabilities need {:.1f} GiB, more than the {:.1f} GiB allowed on the CPU",
                    static_cast<double>(probs_bytes) / (1 << 30),
                    static_cast<double>(options.cpu_materialized_max_bytes) / (1 << 30));
  } else {
    std::vector<float> probs(probs_bytes / 4);
    // fp32 dot products (not double), so that it does the same arithmetic as the kernels it is compared with.
    timing.materialized = time_repeated([&] { attention_reference(problem, out.data(), probs.data(), false); },
                                        options, cancel, nullptr);
    timing.materialized.executed_pairs = causal;  // the reference skips pairs above the diagonal
    timing.materialized.useful_pairs = causal;
  }
  return timing;
}

}  // namespace dmascope::engine
