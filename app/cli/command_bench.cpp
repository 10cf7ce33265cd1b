// `dmascope-cli bench`: times DMA (mask build included) against our dense kernel on one shape, or the whole matrix of
// issue #3 with --matrix; prints a table, or JSON with --json.
#include <fmt/core.h>

#include <map>
#include <set>
#include <tuple>

#include "app/cli/bench.h"
#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "core/base/error.h"

namespace dmascope::cli {

namespace {

void parse_heads(const std::string& text, BenchSetting& s) {
  const auto slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    s.q_heads = std::stoll(text.substr(0, slash));
    s.kv_heads = std::stoll(text.substr(slash + 1));
  } catch (const std::exception&) {
    fail("argument --heads must look like Hq/Hkv (e.g. 32/8), got '{}'", text);
  }
  if (s.q_heads < 1 || s.kv_heads < 1 || s.q_heads % s.kv_heads != 0)
    fail("argument --heads: {} query heads must be a positive multiple of {} kv heads", s.q_heads, s.kv_heads);
}

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

}  // namespace

int command_bench(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"--backend", "--len", "--window", "--heads", "--dim", "--bias", "--bias-model", "--batch",
                   "--precision", "--repeats", "--warmup", "--seed", "--max-len", "--kernel"},
                  {"--json", "--matrix"});
  if (!args.positional().empty()) fail("bench: unexpected argument '{}'", args.positional()[0]);
  BenchSetting base;
  base.backend = args.value("--backend").value_or("cpu");
  if (base.backend != "cpu" && base.backend != "cuda") fail("argument --backend must be cpu or cuda, got '{}'", base.backend);
  base.length = args.integer("--len", 4096);
  base.window = args.integer("--window", 256);
  base.head_dim = args.integer("--dim", 64);
  base.batch = args.integer("--batch", 1);
  if (auto heads = args.value("--heads")) parse_heads(*heads, base);
  base.bias = args.value("--bias").value_or("random");
  base.bias_model = args.value("--bias-model").value_or("");
  base.precision = args.value("--precision").value_or("bf16");
  base.repeats = static_cast<int>(args.integer("--repeats", base.backend == "cuda" ? 20 : 5));
  base.warmup = static_cast<int>(args.integer("--warmup", base.backend == "cuda" ? 5 : 1));
  base.seed = static_cast<std::uint64_t>(args.integer("--seed", 0));
  if (auto kernel = args.value("--kernel")) {  // the CUDA kernels (parse_kernel_choice's syntax)
    if (base.backend != "cuda") fail("argument --kernel picks CUDA kernels: it needs --backend cuda");
    try { base.kernel = parse_kernel_choice(*kernel); } catch (const Error& e) { fail("argument --kernel: {}", e.what()); }
  }
  if (base.length < 1 || base.window < 1 || base.batch < 1 || base.repeats < 1 || base.warmup < 0)
    fail("bench: --len, --window, --batch and --repeats must be positive");
  if (base.bias != "random" && base.bias != "clustered" && base.bias != "model")
    fail("argument --bias must be random, clustered or model, got '{}'", base.bias);

  std::vector<BenchSetting> settings;
  if (args.flag("--matrix")) {  // issue #3's matrix; --max-len trims it for smaller machines
    const std::int64_t max_len = args.integer("--max-len", 131072);
    // Every bias pattern, or only the one --bias names (e.g. --bias model for the rows of a real model's β).
    std::vector<std::string> biases = {"random", "clustered"};
    if (!base.bias_model.empty()) biases.push_back("model");
    if (args.value("--bias")) biases = {base.bias};
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
            if (dense_flops > 2e13) {  // long runs: fewer repeats keep the matrix inside a device call
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
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>, double> dense_cache;
  if (!args.flag("--json")) print_row_header();
  for (const auto& s : settings) {
    BenchResult result;
    if (s.backend == "cpu") {
      result = run_bench_cpu(s);
    } else {
      const auto key = std::tuple{s.length, s.q_heads, s.kv_heads, s.head_dim};
      auto cached = dense_cache.find(key);
      result = run_bench_cuda(s, cached == dense_cache.end() ? -1.0 : cached->second);
      dense_cache[key] = result.dense_ms;  // the dense kernel ignores w and β: time it once per shape
    }
    const auto j = bench_json(s, result);
    all.push_back(j);
    if (!args.flag("--json")) {
      print_row(j);
      std::fflush(stdout);
    }
  }
  if (args.flag("--json")) fmt::print("{}\n", settings.size() == 1 ? all[0].dump(2) : all.dump(2));
  else fmt::print("device: {} · forward kernel: {}{}\n", all[0]["device"].get<std::string>(),
                  all[0].value("forward_kernel", std::string("?")),
                  base.backend == "cuda" ? " · kernel choice: " + kernel_choice_name(base.kernel) : "");
  return 0;
}

}  // namespace dmascope::cli
