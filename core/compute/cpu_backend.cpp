// The CPU backend: core's forward (doge_forward), and the Timing view's CPU kernels in fp32 — the tiled kernel with and
// without the mask, and the reference that writes the whole [Hq, L, L] probability tensor as the materialized
// baseline. Wall-clock (steady_clock) timing: one warm-up run, then repeats until about cpu_budget_ms are spent (at
// least one, at most cpu_max_repeats), or exactly warmup + repeats runs when the budget is 0 (bench).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>

#include <fmt/format.h>

#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/compute/compute_backend.h"
#include "core/compute/timing_math.h"
#include "core/mask/bias_patterns.h"

namespace dmascope {

namespace {

TimedVariant time_repeated(const std::function<void()>& work, const AttentionTimingOptions& options,
                           const std::atomic<bool>& cancel, int max_repeats, int* repeats_done) {
  using Clock = std::chrono::steady_clock;
  auto timed = [&] {
    const auto start = Clock::now();
    work();
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  if (cancel.load()) throw ForwardCancelled{};
  int repeats = options.repeats;
  if (options.cpu_budget_ms > 0) {
    const double warmup_ms = timed();
    repeats =
        std::clamp(static_cast<int>(options.cpu_budget_ms / std::max(warmup_ms, 1e-3)), 1, options.cpu_max_repeats);
  } else {
    for (int r = 0; r < options.warmup; ++r) work();
  }
  repeats = std::max(1, std::min(repeats, max_repeats));
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    if (cancel.load()) throw ForwardCancelled{};
    times.push_back(timed());
  }
  if (repeats_done) *repeats_done = repeats;
  return summarize_times(std::move(times));
}

// The CPU forward reads the model's host weights in place: the model must outlive it.
class CpuModelForward final : public ModelForward {
 public:
  explicit CpuModelForward(const DogeModel& model) : model_(model) {}
  BackendForward run(std::span<const std::int32_t> ids, const ForwardOptions& options,
                     const ForwardRequest& request) override {
    if (request.precision != Precision::F32)
      fail("the CPU forward computes in fp32 only (precision {} asked for; bf16 runs on the CUDA backend)",
           precision_name(request.precision));
    BackendForward run;
    run.forward = doge_forward(model_, std::vector<std::int32_t>(ids.begin(), ids.end()), options);
    return run;
  }
  std::size_t weight_bytes() const override { return 0; }  // the model's own host tensors; nothing is uploaded

 private:
  const DogeModel& model_;
};

class CpuBackend final : public ComputeBackend {
 public:
  Backend kind() const override { return Backend::Cpu; }
  std::string unsupported_reason() const override { return {}; }
  DeviceStatus status() const override {
    DeviceStatus status;
    status.available = true;
    status.name = fmt::format("CPU, {} threads", worker_count());
    return status;
  }
  std::string forward_unsupported_reason(const DogeModel&) const override { return {}; }
  std::unique_ptr<ModelForward> load_forward(const DogeModel& model) const override {
    return std::make_unique<CpuModelForward>(model);
  }
  LayerTiming time_attention(const AttentionInputs& inputs, const AttentionTimingOptions& options,
                             const std::atomic<bool>& cancel) const override;
  KernelTileMap instrument_attention(const AttentionInputs&, Precision) const override {
    fail("kernel tile map: the CPU backend has no instrumented kernel (its tile maps are the forward's)");
  }
  std::vector<StrategyMetrics> lab_head_metrics(const LabHead& head, std::span<const Strategy> strategies,
                                                const LabMetricOptions& options) const override {
    return head_metrics(head, strategies, options);
  }
};

LayerTiming CpuBackend::time_attention(const AttentionInputs& device_or_host, const AttentionTimingOptions& options,
                                       const std::atomic<bool>& cancel) const {
  const AttentionInputs in = host_attention_inputs(device_or_host);  // a CUDA forward's layer: its copy here
  const std::int64_t B = in.batch, L = in.length, H = in.q_heads, Hb = in.bias_heads, d = in.head_dim;
  const std::int64_t segments = B * Hb;
  if (static_cast<std::int64_t>(in.beta.size()) != segments * L || static_cast<std::int64_t>(in.q.size()) != B * H * L * d)
    fail("CPU timing: the inputs' sizes do not match their shape (B {}, Hq {}, Hb {}, L {}, d {})", B, H, Hb, L, d);
  AttentionProblem problem;
  problem.batch = B;
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
  problem.validate();
  std::vector<float> out(static_cast<std::size_t>(B * H * L * d));
  std::vector<std::int32_t> death(static_cast<std::size_t>(segments * L));
  constexpr int no_cap = std::numeric_limits<int>::max();

  LayerTiming timing;
  timing.device_name = fmt::format("CPU, {} threads", worker_count());
  timing.device = timing.device_name + ", fp32";
  timing.forward_kernel = "tiled CPU";
  timing.length = L;
  timing.window = in.window;
  timing.head_dim = d;
  timing.q_heads = H;
  auto build_mask = [&] {
    parallel_for(segments, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t seg = begin; seg < end; ++seg) {
        const auto one = dma_death_indices(std::span<const float>(in.beta.data() + seg * L, L), in.window, in.variant);
        std::copy(one.begin(), one.end(), death.begin() + seg * L);
      }
    });
  };
  timing.mask_build = time_repeated(build_mask, options, cancel, no_cap, nullptr);
  problem.death = death.data();
  AttentionWork work;
  timing.dma = time_repeated([&] { work = attention_tiled(problem, options.cpu_tiles, out.data()); }, options, cancel,
                             no_cap, &timing.repeats);
  timing.dma.executed_pairs = static_cast<double>(work.score_entries);
  timing.dma.useful_pairs = static_cast<double>(work.kept_entries);
  timing.dma_total = time_repeated(
      [&] {
        build_mask();
        attention_tiled(problem, options.cpu_tiles, out.data());
      },
      options, cancel, no_cap, nullptr);
  if (options.keep_dma_output) timing.dma_output = out;  // before the dense baseline reuses `out`
  timing.dma_total.executed_pairs = timing.dma.executed_pairs;
  timing.dma_total.useful_pairs = timing.dma.useful_pairs;
  const double causal = causal_pairs(L, L) * static_cast<double>(B * H);
  timing.token_density = causal > 0 ? timing.dma.useful_pairs / causal : 0;
  timing.tile_density = mask_tile_density(death, segments, L, options.cpu_tiles);
  if (!options.baselines) return timing;

  problem.death = nullptr;
  if (!options.baselines_with_bias) problem.beta = nullptr;
  timing.dense = time_repeated([&] { work = attention_tiled(problem, options.cpu_tiles, out.data()); }, options,
                               cancel, no_cap, nullptr);
  timing.dense.executed_pairs = static_cast<double>(work.score_entries);
  timing.dense.useful_pairs = causal;

  const std::size_t probs_bytes = cpu_materialized_bytes(B * H, L);
  if (probs_bytes > options.cpu_materialized_max_bytes) {
    timing.materialized.skipped_why =
        fmt::format("the [Hq, L, L] fp32 probabilities need {:.1f} GiB, more than the {:.1f} GiB allowed on the CPU",
                    static_cast<double>(probs_bytes) / (1 << 30),
                    static_cast<double>(options.cpu_materialized_max_bytes) / (1 << 30));
  } else {
    std::vector<float> probs(probs_bytes / 4);
    // fp32 dot products (not double), so that it does the same arithmetic as the kernels it is compared with.
    timing.materialized = time_repeated([&] { attention_reference(problem, out.data(), probs.data(), false); },
                                        options, cancel, options.materialized_max_repeats, nullptr);
    timing.materialized.executed_pairs = causal;  // the reference skips pairs above the diagonal
    timing.materialized.useful_pairs = causal;
  }
  return timing;
}

class UnavailableBackend final : public ComputeBackend {
 public:
  UnavailableBackend(Backend kind, std::string reason) : kind_(kind), reason_(std::move(reason)) {}
  Backend kind() const override { return kind_; }
  std::string unsupported_reason() const override { return reason_; }
  DeviceStatus status() const override { return {}; }
  std::string forward_unsupported_reason(const DogeModel&) const override { return reason_; }
  std::unique_ptr<ModelForward> load_forward(const DogeModel&) const override { refuse("forward"); }
  LayerTiming time_attention(const AttentionInputs&, const AttentionTimingOptions&,
                             const std::atomic<bool>&) const override {
    refuse("timing");
  }
  KernelTileMap instrument_attention(const AttentionInputs&, Precision) const override { refuse("kernel tile map"); }
  std::vector<StrategyMetrics> lab_head_metrics(const LabHead&, std::span<const Strategy>,
                                                const LabMetricOptions&) const override {
    refuse("mask lab");
  }

 private:
  [[noreturn]] void refuse(const char* what) const { fail("{} on the {} backend: {}", what, backend_name(kind_), reason_); }
  Backend kind_;
  std::string reason_;
};

}  // namespace

std::unique_ptr<ComputeBackend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

std::unique_ptr<ComputeBackend> make_unavailable_backend(Backend kind, std::string reason) {
  return std::make_unique<UnavailableBackend>(kind, std::move(reason));
}

}  // namespace dmascope
