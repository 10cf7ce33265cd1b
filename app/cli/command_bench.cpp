// `dmascope-cli bench`: times DMA (mask build included) against our dense kernel on one shape, or a matrix of shapes
// (L, w, heads, d, β) with --matrix; prints a table, or JSON with --json.
#include <fmt/core.h>

#include <unistd.h>

#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "app/cli/progress_line.h"
#include "core/attention/kernel_choice.h"
#include "core/base/error.h"
#include "core/formats/atomic_write.h"
#include "engine/timing/bench_output_file.h"
#include "engine/timing/bench_run.h"
#ifdef DMASCOPE_KERNEL_PROFILING
#include <cstdlib>

#include "kernels/kernel_profiling.h"
#endif

namespace dmascope::cli {

using engine::BenchSetting;

namespace {

// Head counts up to this: past any real model's, and it keeps batch · heads · L · d inside 64 bits.
constexpr std::int64_t kMaxHeads = 1024;
// Head dims up to this (the CUDA kernels take 64 and 128 and say so; the CPU takes any).
constexpr std::int64_t kMaxHeadDim = 1024;

// "Hq/Hkv" strictly (both decimal, nothing else) → the message of what is wrong, or empty.
std::string heads_problem(const std::string& text, std::int64_t& q_heads, std::int64_t& kv_heads) {
  const auto slash = text.find('/');
  if (slash == std::string::npos || !command_line::parse_int64(text.substr(0, slash), q_heads) ||
      !command_line::parse_int64(text.substr(slash + 1), kv_heads))
    return fmt::format("expected Hq/Hkv (e.g. 32/8), got '{}'", text);
  if (q_heads < 1 || kv_heads < 1 || q_heads > kMaxHeads || kv_heads > kMaxHeads)
    return fmt::format("head counts must be from 1 to {}, got '{}'", kMaxHeads, text);
  if (q_heads % kv_heads != 0)
    return fmt::format("{} query heads are not a multiple of {} kv heads", q_heads, kv_heads);
  return {};
}

CLI::Validator heads_check() {
  return CLI::Validator(
      [](std::string& text) {
        std::int64_t q_heads = 0, kv_heads = 0;
        return heads_problem(text, q_heads, kv_heads);
      },
      "HQ/HKV");
}

// The host memory a bench shape allocates. CPU: q and the output [B, Hq, L, d], k and v [B, Hkv, L, d] in fp32, β
// and the death indices [B, Hkv, L]. CUDA: the host copy of q (the largest input, 2-byte elements) while it is
// uploaded, β and the death indices. Checked before allocating, so that a shape that cannot fit says why instead of
// ending in std::bad_alloc. (Device allocations that fail are reported by the CUDA error path.)
void check_bench_fits_in_memory(const BenchSetting& s) {
  const double q_elements = static_cast<double>(s.batch * s.q_heads) * static_cast<double>(s.length * s.head_dim);
  const double kv_elements = static_cast<double>(s.batch * s.kv_heads) * static_cast<double>(s.length * s.head_dim);
  const double mask_elements = static_cast<double>(s.batch * s.kv_heads * s.length);
  const double bytes = s.backend == Backend::Cpu ? 4.0 * (2 * q_elements + 2 * kv_elements + 2 * mask_elements)
                                          : 2.0 * q_elements + 4.0 * 2 * mask_elements;
  const double physical = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (physical > 0 && bytes > physical)
    usage_fail("--len {} with --heads {}/{}, --dim {}, --batch {} needs {:.1f} GB of host memory for its tensors, more "
               "than this machine's {:.1f} GB of memory",
               s.length, s.q_heads, s.kv_heads, s.head_dim, s.batch, bytes / 1e9, physical / 1e9);
}

struct BenchArguments {
  std::string backend = "cpu", heads, bias = "random", bias_model, precision = "bf16", kernel, save_output;
  std::int64_t len = 4096, window = 256, dim = 64, batch = 1, repeats = 0, warmup = -1, seed = 0, max_len = 131072,
               save_rows = 64;
  bool json = false, matrix = false, quiet = false, force = false, counters = false;
  CLI::Option* bias_option = nullptr;  // count(): whether --bias was given
  CLI::Option* repeats_option = nullptr;
  CLI::Option* warmup_option = nullptr;
};

void print_row_header() {
  fmt::print("{:>7} {:>6} {:>6} {:>4} {:>9} | {:>9} {:>9} {:>9} {:>7} {:>7} | {:>8} {:>8} | {:>7} {:>7} {:>7}\n", "L",
             "w", "Hq/Hkv", "d", "bias", "mask ms", "DMA ms", "dense ms", "speedup", "ideal", "tokens", "tiles",
             "useful", "exec", "dense");
  fmt::print("{:>7} {:>6} {:>6} {:>4} {:>9} | {:>9} {:>9} {:>9} {:>7} {:>7} | {:>8} {:>8} | {:>7} {:>7} {:>7}\n", "", "",
             "", "", "", "(only)", "(incl.)", "", "", "", "density", "density", "TFLOP/s", "TFLOP/s", "TFLOP/s");
}

void print_row(const nlohmann::json& j) {
  fmt::print("{:>7} {:>6} {:>6} {:>4} {:>9} | {:>9.3f} {:>9.3f} {:>9.3f} {:>6.2f}x {:>6.1f}x | {:>7.2f}% {:>7.2f}% | "
             "{:>7.3f} {:>7.3f} {:>7.3f}\n",
             j["len"].get<std::int64_t>(), j["window"].get<std::int64_t>(),
             fmt::format("{}/{}", j["q_heads"].get<std::int64_t>(), j["kv_heads"].get<std::int64_t>()),
             j["dim"].get<std::int64_t>(), j["bias"].get<std::string>(), j["mask_build_ms"].get<double>(),
             j["dma_ms"].get<double>(), j["dense_ms"].get<double>(), j["speedup_vs_dense"].get<double>(),
             j["ideal_speedup"].get<double>(), 100 * j["token_density"].get<double>(),
             100 * j["tile_density"].get<double>(), j["dma_useful_tflops"].get<double>(),
             j["dma_executed_tflops"].get<double>(), j["dense_tflops"].get<double>());
}

// bench --counters: the row's work as the forward kernel counted it, and the DMA time with the counters on.
void print_counters(const nlohmann::json& j) {
  const double dense = j["counted_dense_pairs"].get<double>(), executed = j["counted_executed_pairs"].get<double>();
  fmt::print("        from the kernel's counters: {:.0f} keys gathered per 64-row query tile on average (at most {}), "
             "{:.4g} executed (query, key) pairs = {:.2f}% of dense\n",
             j["counted_keys_per_tile_mean"].get<double>(), j["counted_keys_per_tile_max"].get<std::int64_t>(),
             executed, dense > 0 ? 100 * executed / dense : 0.0);
  fmt::print("        DMA incl. mask, counters off {:.4f} ms (spread {:.4f}) · counters on {:.4f} ms (spread {:.4f}) · "
             "{:+.1f}%\n",
             j["dma_ms"].get<double>(), j["dma_spread_ms"].get<double>(), j["dma_counted_ms"].get<double>(),
             j["dma_counted_spread_ms"].get<double>(), 100 * j["counters_overhead"].get<double>());
}

#ifdef DMASCOPE_KERNEL_PROFILING
// A profiling build (-DDMASCOPE_KERNEL_PROFILING=ON) takes the chunked mask build's switches from the environment:
// DMASCOPE_CHUNKED_STOP_AFTER=n stops the kernel after stage n (the mask is then INCOMPLETE: timings only) and
// DMASCOPE_CHUNKED_TRACE=n prints the n-th chunked launch's per-stage times (kernels/kernel_profiling.h).
void apply_chunked_profiling_environment() {
  cuda::ChunkedBuildProfiling profiling;
  if (const char* value = std::getenv("DMASCOPE_CHUNKED_STOP_AFTER")) profiling.stop_after_stage = std::atoi(value);
  if (const char* value = std::getenv("DMASCOPE_CHUNKED_TRACE")) profiling.trace_launch = std::atoi(value);
  cuda::set_chunked_build_profiling(profiling);
}
#endif

int run_bench(const BenchArguments& args) {
#ifdef DMASCOPE_KERNEL_PROFILING
  apply_chunked_profiling_environment();
#endif
  BenchSetting base;
  base.backend = backend_from_name(args.backend);
  base.length = args.len;
  base.window = args.window;
  base.head_dim = args.dim;
  base.batch = args.batch;
  if (!args.heads.empty()) heads_problem(args.heads, base.q_heads, base.kv_heads);  // checked at parse time
  base.bias = args.bias;
  base.bias_model = args.bias_model;
  if (base.backend == Backend::Cuda && args.precision != "bf16" && args.precision != "fp16")
    usage_fail("--precision must be bf16 or fp16 with --backend cuda, got '{}'", args.precision);
  base.precision = precision_from_name(args.precision);
  base.repeats = static_cast<int>(args.repeats_option->count() ? args.repeats : base.backend == Backend::Cuda ? 20 : 5);
  base.warmup = static_cast<int>(args.warmup_option->count() ? args.warmup : base.backend == Backend::Cuda ? 5 : 1);
  base.seed = static_cast<std::uint64_t>(args.seed);
  if (base.bias == "model" && base.bias_model.empty()) usage_fail("--bias model needs --bias-model DIR");
  if (!args.kernel.empty()) {  // the CUDA kernels (parse_kernel_choice's syntax)
    if (base.backend != Backend::Cuda) usage_fail("argument --kernel picks CUDA kernels: it needs --backend cuda");
    try {
      base.kernel = parse_kernel_choice(args.kernel);
    } catch (const Error& error) {
      usage_fail("argument --kernel: {}", error.what());
    }
  }

  if (args.counters && base.backend != Backend::Cuda)
    usage_fail("argument --counters times the CUDA forward with its counters on: it needs --backend cuda");
  base.counters = args.counters;
  if (!args.save_output.empty()) {
    if (args.matrix) usage_fail("argument --save-output writes one row: it cannot be used with --matrix");
    check_output_target(args.save_output, OutputRule{.force = args.force, .inputs = {}});  // before the timing
    base.keep_dma_output = true;
  }

  std::vector<BenchSetting> settings;
  if (args.matrix) {  // the matrix of shapes; --max-len trims it for smaller machines
    const std::int64_t max_len = args.max_len;
    // Every bias pattern, or only the one --bias names (e.g. --bias model for the rows of a real model's β).
    std::vector<std::string> biases = {"random", "clustered"};
    if (!base.bias_model.empty()) biases.push_back("model");
    if (args.bias_option->count() > 0) biases = {base.bias};
    for (auto [hq, hkv, dim] : {std::tuple{2, 1, 64}, std::tuple{32, 8, 64}, std::tuple{32, 8, 128}})
      for (std::int64_t length : {4096, 8192, 16384, 32768, 65536, 131072}) {
        if (length > max_len) continue;
        std::set<std::int64_t> windows = {length};  // a fixed w ≥ L is the w = L row again
        for (std::int64_t window : {256, 1024, 2048, 4096})
          if (window < length) windows.insert(window);
        for (std::int64_t window : windows)
          for (const auto& bias : biases) {
            BenchSetting s = base;
            s.q_heads = hq;
            s.kv_heads = hkv;
            s.head_dim = dim;
            s.length = length;
            s.window = window;
            s.bias = bias;
            const double dense_flops = 2.0 * hq * static_cast<double>(length) * length * dim;
            if (dense_flops > 2e13) {  // long runs: fewer repeats keep the whole matrix to minutes
              s.repeats = std::min(s.repeats, 5);
              s.warmup = std::min(s.warmup, 1);
            }
            settings.push_back(s);
          }
      }
  } else {
    settings.push_back(base);
  }

  nlohmann::json all = nlohmann::json::array();
  // CUDA: the dense kernel ignores w and β, so it is timed once per shape (the CPU times it on every row).
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>, TimedVariant> dense_cache;
  for (const auto& s : settings) check_bench_fits_in_memory(s);
  if (!args.json) print_row_header();
  ProgressLine progress("bench", args.quiet || settings.size() == 1);  // one shape: its row is the progress
  for (const auto& s : settings) {
    progress.update(fmt::format("row {}/{}: L {}, w {}, heads {}/{}, d {}, bias {}", &s - settings.data() + 1,
                                settings.size(), s.length, s.window, s.q_heads, s.kv_heads, s.head_dim, s.bias));
    const auto key = std::tuple{s.length, s.q_heads, s.kv_heads, s.head_dim};
    const auto cached = s.backend == Backend::Cuda ? dense_cache.find(key) : dense_cache.end();
    const LayerTiming timing = engine::run_bench(s, cached == dense_cache.end() ? nullptr : &cached->second);
    if (s.backend == Backend::Cuda) dense_cache[key] = timing.dense;
    const auto j = engine::bench_json(s, timing);
    all.push_back(j);
    if (s.keep_dma_output)
      engine::write_bench_output(args.save_output, s, engine::bench_inputs(s), timing, args.save_rows, args.force);
    if (!args.json) {
      progress.clear();
      print_row(j);
      if (j.contains("dma_counted_ms")) print_counters(j);
      std::fflush(stdout);
    }
  }
  progress.clear();
  if (args.json) fmt::print("{}\n", settings.size() == 1 ? all[0].dump(2) : all.dump(2));
  else fmt::print("device: {} · forward kernel: {}{}\n", all[0]["device"].get<std::string>(),
                  all[0].value("forward_kernel", std::string("?")),
                  base.backend == Backend::Cuda ? " · kernel choice: " + kernel_choice_name(base.kernel) : "");
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& cli) {
  auto args = std::make_shared<BenchArguments>();
  CLI::App* command = cli.add_subcommand(
      "bench", "time DMA (mask build included) against our dense kernel on one shape, or the matrix with --matrix");
  command->add_option("--backend", args->backend, "cpu (default) or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  command->add_option("--len", args->len, "sequence length L (default 4096)")->transform(integer_in(1, kMaxTokens));
  command->add_option("--window", args->window, "DMA keep-window w (default 256)")
      ->transform(integer_in(1, kMaxTokens));
  command->add_option("--heads", args->heads, "query/kv heads Hq/Hkv, Hq a multiple of Hkv (default 2/1)")
      ->check(heads_check());
  command->add_option("--dim", args->dim, "head dim d (default 64; the CUDA kernels take 64 and 128)")
      ->transform(integer_in(1, kMaxHeadDim));
  command->add_option("--batch", args->batch, "batch size B (default 1)")->transform(integer_in(1, kMaxHeads));
  args->bias_option = command->add_option("--bias", args->bias, "where β comes from: random (default), clustered, "
                                                                "or model (a real model's, see --bias-model)")
                          ->check(CLI::IsMember({"random", "clustered", "model"}));
  command->add_option("--bias-model", args->bias_model, "the model folder whose layer-0 β --bias model uses");
  command->add_option("--precision", args->precision, "CUDA input precision: bf16 (default) or fp16 (the CPU is fp32)")
      ->check(CLI::IsMember({"bf16", "fp16"}));
  args->repeats_option = command->add_option("--repeats", args->repeats, "timed runs; the median is reported "
                                                                         "(default 20 on cuda, 5 on cpu)")
                             ->transform(integer_in(1, kMaxRepeats));
  args->warmup_option =
      command->add_option("--warmup", args->warmup, "untimed runs first (default 5 on cuda, 1 on cpu)")
          ->transform(integer_in(0, kMaxRepeats));
  command->add_option("--seed", args->seed, "seed of the random q, k, v and β (default 0)")
      ->transform(integer_in(0, kMaxSeed));
  command->add_flag("--json", args->json, "print JSON (one object, or an array with --matrix) instead of the table");
  command->add_flag("--matrix", args->matrix, "run the whole matrix of shapes: 2/1 d64, 32/8 d64, 32/8 d128 at "
                                              "L = 4K..128K and w = 256..4096 and L");
  command->add_option("--max-len", args->max_len, "with --matrix: leave out the rows longer than this (default 131072)")
      ->transform(integer_in(1, kMaxTokens));
  command->add_flag("--quiet", args->quiet, kQuietHelp);
  command->add_option("--save-output", args->save_output,
                      "also write the row's inputs and DMA output (sampled query rows) as safetensors, for a "
                      "reference check outside the program");
  command->add_option("--save-rows", args->save_rows, "query rows --save-output samples, the last included (default 64)")
      ->transform(integer_in(1, kMaxTokens));
  command->add_flag("--counters", args->counters,
                    "with --backend cuda: also time the DMA with the forward kernel's counters on, and print what they "
                    "counted (keys gathered per query tile, executed pairs); the DMA time reported is counters off");
  command->add_flag("--force", args->force, "with --save-output: replace an existing file");
  command->add_option("--kernel", args->kernel,
                      "CUDA kernels to run, a comma list (default: what the GPU runs best): forward=auto|wgmma|mma, "
                      "keys=async|sync, heads-per-cta=auto|1|2|4, fused-lists=on|off, pdl=on|off, mask-build=auto|sort, "
                      "gather-lists=auto|scan, scores=fp32|input (input: rounded as transformers' eager bf16 attention)");
  return {command, [args] { return run_bench(*args); }};
}

}  // namespace dmascope::cli
