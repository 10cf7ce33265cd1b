// `dmascope-cli forward`: runs the forward pass (the CPU's, or with --backend cuda the GPU's, bf16 or fp32) on a model
// and prints what the mask did, layer by layer and head by head (token density, tile density, skipped tiles), the
// speed, optionally a coarse text picture of one tile map, and with --check how far a GPU run is from the CPU's fp32
// reference (engine/precision/precision_check.h).
#include <fmt/core.h>

#include <cmath>
#include <memory>
#include <random>
#include <span>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "app/cli/progress_line.h"
#include "core/compute/precision.h"
#include "core/mask/cut_ties.h"
#include "core/model/doge_forward.h"
#include "core/model/forward_memory.h"
#include "core/base/checked_math.h"
#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/tokenizer/tokenizer.h"
#include "core/attention/kernel_counters.h"
#include "engine/backend/backend_factory.h"
#include "engine/precision/precision_check.h"
#include "engine/timing/layer_timing.h"

namespace dmascope::cli {

namespace {

// One character per block of tiles: ' ' no kept entry (empty, or above the diagonal), '.' some kept, '#' all full.
// At most `width` columns.
void print_tile_map(const TileMap& map, std::int64_t width) {
  const std::int64_t step = std::max<std::int64_t>(1, (map.k_tiles + width - 1) / width);
  fmt::print("tile map ({} x {} tiles of {}x{}; ' ' empty or above the diagonal, '.' partial, '#' full; {} tile(s) per "
             "character)\n",
             map.q_tiles, map.k_tiles, map.shape.rows, map.shape.cols, step * step);
  for (std::int64_t qt = 0; qt < map.q_tiles; qt += step) {
    std::string line;
    for (std::int64_t kt = 0; kt < map.k_tiles; kt += step) {
      int any = 0, all_full = 1;
      for (std::int64_t a = qt; a < std::min(map.q_tiles, qt + step); ++a)
        for (std::int64_t b = kt; b < std::min(map.k_tiles, kt + step); ++b) {
          const auto status = static_cast<TileStatus>(map.status[a * map.k_tiles + b]);
          any |= status != TileStatus::Skipped;
          all_full &= status == TileStatus::Full;
        }
      line += !any ? ' ' : all_full ? '#' : '.';
    }
    fmt::print("|{}|\n", line);
  }
}

// --backend cuda --map: the DMA forward kernel (bf16) run instrumented on the layer's q, k, v and β, its tile map and
// gathered work from the counters the kernel wrote. Where the kernels cannot take the layer (a head dim other than 64
// or 128), the GPU forward's own tile map, saying why.
void print_kernel_tile_map(const ComputeBackend& cuda, const DogeModel& model, const ForwardResult& result,
                           const ForwardOptions& options, std::int64_t layer, std::int64_t bias_head) {
  const LayerCapture& capture = result.layers.at(static_cast<std::size_t>(layer));
  KernelTileMap kernel;
  std::string why_not;
  try {
    kernel = cuda.instrument_attention(engine::capture_attention_inputs(capture, model.config, model.weights.bias_heads,
                                                                        result.window, options.mask_variant),
                                       Precision::BF16);
  } catch (const Error& error) {
    why_not = error.what();
  }
  if (!why_not.empty()) {
    fmt::print("tile map of layer {}, bias head {}: the GPU forward's, from the death indices ({}x{} tiles); the DMA "
               "kernel's counters are not available here: {}\n",
               layer, bias_head, options.tiles.rows, options.tiles.cols, why_not);
    print_tile_map(capture.tile_maps.at(static_cast<std::size_t>(bias_head)), 64);
    return;
  }
  const KernelCounters& counters = kernel.counters;
  const std::int64_t first_head = bias_head * (counters.q_heads / counters.bias_heads);
  const GatheredWork work = gathered_work_from_counters(counters, first_head);
  const TileMap map = tile_map_from_counters(counters, bias_head);
  fmt::print("tile map of layer {}, bias head {}: from the kernel's counters (the bf16 DMA forward, {}, run "
             "instrumented on the layer's q, k, v and β)\n",
             layer, bias_head, kernel.device);
  fmt::print("kernel counters: {:.0f} keys gathered per {}-row query tile on average (at most {}); executed (query, key) "
             "pairs {:.0f} = {:.2f}% of dense per query head; token density {:.1f}%, tile density {:.1f}%\n",
             work.mean_keys_per_tile(), work.tile_rows, work.max_keys_per_tile(), work.executed_pairs,
             100 * work.executed_fraction(), 100 * map.token_density(), 100 * map.tile_density());
  print_tile_map(map, 64);
}

// The memory a forward of `tokens` tokens needs, refused before anything large is allocated. The CPU forward: core's
// estimate against MemAvailable. The GPU forward: the ids and the tile maps that come back against MemAvailable, and
// the device buffers (without the mask build's scratch, which only the kernels know; the GPU forward checks again
// with it) and the weights against the device's free memory.
void require_forward_memory(const DogeModel& model, std::int64_t tokens, const ForwardOptions& options,
                            const ComputeBackend* cuda) {
  if (!cuda) {
    require_cpu_forward_memory(model, tokens, options);
    return;
  }
  const std::int64_t bias_heads = model.weights.bias_heads;
  ForwardMemoryEstimate host;
  host.token_id_bytes = saturating_mul(tokens, 4);
  const auto tiles = [&](std::int64_t size) { return (tokens + size - 1) / size; };
  host.tile_map_bytes = saturating_mul(saturating_mul(model.config.num_hidden_layers, bias_heads),
                                       saturating_mul(tiles(options.tiles.rows), tiles(options.tiles.cols)));
  const std::string what = fmt::format("GPU forward of {} tokens (tiles {}x{})", tokens, options.tiles.rows,
                                       options.tiles.cols);
  if (const auto available = available_host_memory_bytes())
    require_memory(host, *available, what, "MemAvailable in /proc/meminfo");
  ForwardMemoryEstimate device =
      estimate_gpu_forward_device_memory(model.config, bias_heads, tokens, options, 1, true, 0);
  device.weight_bytes = saturating_mul(model.weights.parameter_count, 4);  // uploaded as fp32
  const DeviceStatus status = cuda->status();
  require_memory(device, static_cast<std::int64_t>(status.memory_free), what,
                 fmt::format("free memory of {}", status.name));
}

// --check: the GPU run against the CPU's fp32 forward on the same ids and window (engine::check_against_cpu_reference).
// Returns 1 when a logit is not finite (reported, never passed as agreement).
int print_precision_check(const DogeModel& model, std::span<const std::int32_t> ids, const ForwardOptions& options,
                          const ForwardResult& run, Precision precision, bool quiet) {
  engine::PrecisionCheck check;
  {
    ProgressLine progress("check", quiet);
    check = engine::check_against_cpu_reference(model, ids, options, run, [&](std::int64_t done, std::int64_t total) {
      if (progress.shown()) progress.update(fmt::format("CPU fp32 forward, layer {}/{}", done, total));
    });
  }
  const auto percent_or_not_finite = [](double error) {
    return std::isfinite(error) ? fmt::format("{:.2f} %", 100.0 * error) : std::string("not finite");
  };
  fmt::print("check against the CPU's fp32 forward (the exact reference), {} tokens, window {}:\n", check.tokens,
             check.window);
  const auto rows_line = [&](const RowErrors& rows) {
    std::string quarters;
    for (double error : rows.by_quarter) quarters += " " + percent_or_not_finite(error);
    return fmt::format("    by row: median {}, 99th percentile {}, worst {} (row {}){}",
                       percent_or_not_finite(rows.median), percent_or_not_finite(rows.p99),
                       percent_or_not_finite(rows.worst), rows.worst_row,
                       quarters.empty() ? "" : "; by quarter of the rows:" + quarters);
  };
  fmt::print("  logits: relative error {}, top-1 agreement {:.2f} % ({})\n{}\n",
             percent_or_not_finite(check.relative_error), 100.0 * check.top_one.share(), describe_flips(check.top_one),
             rows_line(check.rows));
  fmt::print("  on this run's own β and masks (the {} arithmetic alone): relative error {}, top-1 agreement {:.2f} % "
             "({})\n{}\n",
             precision_name(precision), percent_or_not_finite(check.same_masks_relative_error),
             100.0 * check.same_masks_top_one.share(), describe_flips(check.same_masks_top_one),
             rows_line(check.same_masks_rows));
  fmt::print("  (a flip's margin: the reference's lead of its own top-1 over this run's, in RMS logit differences of "
             "the row; a few or less is a near-tie)\n");
  fmt::print("{:>7} {:>9} {:>19} {:>26} {:>20} {:>17}\n", "layer", "bias head", "kept-mask agreement",
             "rows with another kept set", "of them cut on a tie", "largest β change");
  for (std::size_t layer = 0; layer < check.layers.size(); ++layer)
    for (std::size_t head = 0; head < check.layers[layer].heads.size(); ++head) {
      const MaskAgreement& mask = check.layers[layer].heads[head];
      fmt::print("{:>7} {:>9} {:>17.3f} % {:>26} {:>20} {:>15.3f} %\n", layer, head, 100.0 * mask.kept_share,
                 mask.rows_differing, mask.differing_on_tie, 100.0 * check.layers[layer].largest_beta_change[head]);
    }
  fmt::print("  (cut on a tie: the row's w-th and (w+1)-th key tie on β in this run or in the reference, and the tie "
             "rule — lower index kept — picks the kept key; largest β change: of the head's largest |β|)\n");
  if (!check.finite()) {
    fmt::print(stderr, "forward --check: this run's logits hold a non-finite value\n");
    return 1;
  }
  return 0;
}

struct ForwardArguments {
  std::string model, ids, text, mask_variant = "per-row", backend = "cpu", tile_maps = "gpu", precision;
  std::int64_t random = 0, seed = 0, window = 0, tile = 64, threads = 0, repeat = 1, map_layer = 0, map_head = 0;
  bool map = false, quiet = false, check = false;
  CLI::Option* ids_option = nullptr;  // count(): whether it was given
  CLI::Option* text_option = nullptr;
  CLI::Option* random_option = nullptr;
};

int run_forward(const ForwardArguments& args) {
  const int sources =
      (args.ids_option->count() > 0) + (args.text_option->count() > 0) + (args.random_option->count() > 0);
  if (sources != 1) usage_fail("give exactly one of --ids, --text or --random N");
  const DogeModel model = DogeModel::load(args.model);
  // The tile map asked for must exist in this model: checked before the forward, which can take minutes.
  if (args.map_layer >= model.config.num_hidden_layers)
    usage_fail("--map-layer: {} is not a layer of {} (0..{})", args.map_layer, model.dir.string(),
               model.config.num_hidden_layers - 1);
  if (args.map_head >= model.weights.bias_heads)
    usage_fail("--map-head: {} is not a bias head of {} (0..{})", args.map_head, model.dir.string(),
               model.weights.bias_heads - 1);
  if (args.threads > 0) set_worker_count(args.threads);
  // The model's precision: bf16 on the GPU unless asked otherwise; the CPU forward computes in fp32 only.
  const Precision precision = args.precision.empty() ? (args.backend == "cuda" ? Precision::BF16 : Precision::F32)
                                                     : precision_from_name(args.precision);
  if (args.check && args.backend != "cuda")
    usage_fail("--check compares a GPU forward with the CPU's fp32 forward: give --backend cuda (the CPU forward is "
               "the reference itself)");
  if (args.backend == "cpu" && precision != Precision::F32)
    usage_fail("--precision {}: the CPU forward computes in fp32 only (bf16 runs with --backend cuda)",
               args.precision);

  ForwardOptions options;
  options.window = args.window;
  const std::int64_t tile = args.tile;
  options.tiles = {tile, tile};
  options.mask_variant = mask_variant_from_name(args.mask_variant);
  const std::int64_t repeats = args.repeat;
  const ComputeBackend* cuda = nullptr;
  if (args.backend == "cuda") {
    cuda = &engine::compute_backend(Backend::Cuda);
    if (const std::string why = cuda->forward_unsupported_reason(model); !why.empty())
      fail("argument --backend cuda: {}", why);
  }

  std::vector<std::int32_t> ids;
  if (args.text_option->count() > 0) {
    if (!model.has_tokenizer) fail("forward: --text needs a tokenizer.json in {}", model.dir.string());
    ids = Tokenizer::load(model.dir / "tokenizer.json").encode(args.text, true);
  } else if (args.ids_option->count() > 0) {
    ids = parse_id_list(args.ids);
  } else {
    // Before the ids exist and before any weight reaches the device, with the options given: 16M ids alone are 64 MB.
    require_forward_memory(model, args.random, options, cuda);
    std::mt19937 rng(static_cast<std::uint32_t>(args.seed));
    std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(model.config.vocab_size - 1));
    ids.reserve(static_cast<std::size_t>(args.random));
    for (std::int64_t i = 0; i < args.random; ++i) ids.push_back(token(rng));
  }
  // Ids from --ids or --text are checked here, still before the weights are uploaded; the forwards check again.
  if (args.random_option->count() == 0) require_forward_memory(model, static_cast<std::int64_t>(ids.size()), options, cuda);
  if (args.check)  // the CPU reference on top of the run's every logit row, which stays held while it runs
    require_cpu_forward_memory(model, static_cast<std::int64_t>(ids.size()), options,
                               saturating_mul(saturating_mul(static_cast<std::int64_t>(ids.size()),
                                                             model.config.vocab_size), 4));

  const std::string& backend = args.backend;
  ForwardResult result;
  std::vector<double> elapsed, gpu_elapsed;
  std::string gpu_line;
  if (backend == "cpu") {
    ProgressLine progress("forward", args.quiet);
    std::int64_t run = 0;
    if (progress.shown())
      options.on_progress = [&](std::int64_t done, std::int64_t total) {
        progress.update(fmt::format("run {}/{}, layer {}/{}", run + 1, repeats, done, total));
      };
    for (run = 0; run < repeats; ++run) {
      result = doge_forward(model, ids, options);
      elapsed.push_back(result.elapsed_ms);
    }
    options.on_progress = nullptr;  // it refers to this block's progress line
  } else {
    // The GPU forward: weights uploaded once, then `repeats` runs. Only the last position's logits come back (the
    // summary does not print logits) unless --check compares them all; q/k/v stay on the device. Tile maps are built
    // on the GPU unless --tile-maps cpu.
    const std::unique_ptr<ModelForward> gpu_forward = cuda->load_forward(model);
    ForwardRequest request;
    // --map draws the DMA kernel's own tiles: the map layer's q, k, v and β come back for its instrumented run.
    request.attention_inputs = args.map;
    request.logits = args.check ? LogitRows::All : LogitRows::Last;
    const std::string& tile_maps = args.tile_maps;
    request.tile_maps_on_device = tile_maps == "gpu";
    request.precision = precision;
    BackendForward gpu;
    for (std::int64_t r = 0; r < repeats; ++r) {
      gpu = gpu_forward->run(ids, options, request);
      elapsed.push_back(gpu.forward.elapsed_ms);
      gpu_elapsed.push_back(gpu.device_ms);
    }
    std::sort(gpu_elapsed.begin(), gpu_elapsed.end());
    gpu_line = fmt::format("GPU {:.3f} ms median of {} (device time, CUDA events; min {:.3f}, max {:.3f}), downloads "
                           "{:.2f} ms, tile maps ({}) {:.2f} ms, weights {:.1f} MB on {}\n",
                           gpu_elapsed[gpu_elapsed.size() / 2], repeats, gpu_elapsed.front(), gpu_elapsed.back(),
                           gpu.download_ms, tile_maps, gpu.tile_map_ms, gpu_forward->weight_bytes() / 1e6,
                           cuda->status().name);
    result = std::move(gpu.forward);
  }
  std::sort(elapsed.begin(), elapsed.end());
  const double median_ms = elapsed[elapsed.size() / 2];
  const auto L = static_cast<std::int64_t>(ids.size());
  if (backend == "cpu")
    fmt::print("{} tokens, window {}, {} mask, {} threads (CPU, fp32)\n", L, result.window,
               mask_variant_name(options.mask_variant), worker_count());
  else
    fmt::print("{} tokens, window {}, {} mask (CUDA, {})\n", L, result.window, mask_variant_name(options.mask_variant),
               precision_name(precision));
  if (precision == Precision::BF16)  // one CUDA graph: no separate attention time
    fmt::print("forward {:.1f} ms median of {} ({:.0f} tokens/s; wall time, captures included)\n", median_ms, repeats,
               L / (median_ms / 1000.0));
  else
    fmt::print("forward {:.1f} ms median of {} ({:.0f} tokens/s), attention {:.1f} ms of the last run\n", median_ms,
               repeats, L / (median_ms / 1000.0), result.attention_ms);
  fmt::print("{}", gpu_line);
  if (!args.quiet) {
    // The app's words: one row per bias head (a mask may be shared by several query heads); "empty" counts the
    // causal tiles without a kept entry, apart from the tiles above the diagonal, which no kernel runs anyway; tile
    // density = (partial + full) / causal tiles; "cut on tie": the rows whose w-th and (w+1)-th key tie on β, where
    // the kept set is the tie rule's choice (lower index kept, as torch on CUDA; core/mask/cut_ties.h).
    fmt::print("{:>5} {:>9} {:>14} {:>13} {:>9} {:>9} {:>9} {:>14} {:>11}\n", "layer", "bias head", "token density",
               "tile density", "empty", "partial", "full", "above diagonal", "cut on tie");
    for (std::size_t layer = 0; layer < result.layers.size(); ++layer) {
      const Tensor& beta = result.layers[layer].dyn_bias;
      const std::size_t heads = result.layers[layer].tile_maps.size();
      const std::vector<CutTies> ties =
          beta.defined() && beta.numel() > 0
              ? dma_cut_ties_per_head({beta.data<float>(), static_cast<std::size_t>(beta.numel())},
                                      static_cast<std::int64_t>(heads), result.window, options.mask_variant)
              : std::vector<CutTies>{};
      for (std::size_t head = 0; head < heads; ++head) {
        const TileMap& map = result.layers[layer].tile_maps[head];
        const std::int64_t empty = map.causal_tiles - map.partial - map.full;
        const std::string tied = head < ties.size() ? fmt::format("{} rows", ties[head].count()) : "-";
        fmt::print("{:>5} {:>9} {:>13.1f}% {:>12.1f}% {:>9} {:>9} {:>9} {:>14} {:>11}\n", layer, head,
                   100.0 * map.token_density(), 100.0 * map.tile_density(), empty, map.partial, map.full,
                   map.skipped - empty, tied);
      }
    }
  }
  if (args.map) {
    const auto layer = static_cast<std::size_t>(args.map_layer);
    const auto head = static_cast<std::size_t>(args.map_head);
    // Checked against the model above; this guards the captures (a forward that returned fewer).
    if (layer >= result.layers.size() || head >= result.layers[layer].tile_maps.size())
      fail("forward: no tile map for layer {} head {} in the result", layer, head);
    if (cuda) {
      print_kernel_tile_map(*cuda, model, result, options, args.map_layer, args.map_head);
    } else {
      fmt::print("tile map of layer {}, bias head {}: the CPU forward's ({}x{} tiles, from the death indices)\n",
                 layer, head, tile, tile);
      print_tile_map(result.layers[layer].tile_maps[head], 64);
    }
  }
  if (args.check) return print_precision_check(model, ids, options, result, precision, args.quiet);
  return 0;
}

}  // namespace

Command add_forward_command(CLI::App& cli) {
  auto args = std::make_shared<ForwardArguments>();
  CLI::App* command = cli.add_subcommand(
      "forward", "run the forward pass (CPU fp32, or the GPU's bf16 or fp32); print speed and, per layer and head, what "
                 "the mask kept");
  command->add_option("--model", args->model, "the model folder (config.json + safetensors)")->required();
  args->ids_option = command->add_option("--ids", args->ids, "the token ids, e.g. 1,2,3")->check(id_list_check());
  args->text_option = command->add_option("--text", args->text, "a text, encoded with the model's tokenizer.json");
  args->random_option = command->add_option("--random", args->random, "N uniformly random tokens")
                            ->transform(integer_in(1, kMaxTokens));
  command->add_option("--seed", args->seed, "seed of --random's tokens (default 0)")
      ->transform(integer_in(0, UINT32_MAX));  // the generator's seed is 32 bits: no silent wrap
  command->add_option("--window", args->window, "DMA keep-window w (default: the model's keep_window_size)")
      ->transform(integer_in(1, kMaxTokens));
  command->add_option("--tile", args->tile, "tile side of the tile maps, in tokens (default 64)")
      ->transform(integer_in(1, kMaxTokens));
  command->add_option("--mask-variant", args->mask_variant, "per-row (default; each row its own top-w) or shared")
      ->check(CLI::IsMember({"per-row", "shared"}));
  command->add_option("--threads", args->threads, "CPU worker threads (default: all cores)")
      ->transform(integer_in(1, kMaxThreads));
  command->add_option("--repeat", args->repeat, "runs of the forward; the median time is reported (default 1)")
      ->transform(integer_in(1, kMaxRepeats));
  command->add_flag("--map", args->map, "also draw one tile map as text (with --backend cuda: the DMA kernel's own "
                                        "64x64 tiles, from the counters it writes in an instrumented run)");
  command->add_option("--map-layer", args->map_layer, "the layer of --map (default 0)")
      ->transform(integer_in(0, kMaxTokens));
  command->add_option("--map-head", args->map_head, "the bias head of --map (default 0)")
      ->transform(integer_in(0, kMaxTokens));
  command->add_option("--backend", args->backend, "cpu (default) or cuda (the GPU's forward)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  command->add_option("--precision", args->precision,
                      "fp32 or bf16: the model's number format (default: bf16 with --backend cuda, as transformers runs "
                      "a bf16 model on the GPU; fp32, the exact reference, on the cpu, which has no other)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  command->add_option("--tile-maps", args->tile_maps, "with --backend cuda: build the tile maps on the gpu (default) "
                                                      "or the cpu")
      ->check(CLI::IsMember({"gpu", "cpu"}));
  command->add_flag("--check", args->check,
                    "with --backend cuda: also run the CPU's fp32 forward (the exact reference) on the same ids and "
                    "window, and print how far this run is from it: logits' relative error and top-1 agreement (each "
                    "flip with the reference's margin), the same on this run's own β and masks (its arithmetic "
                    "alone), and per layer and bias head the kept-mask agreement, the rows whose kept set differs and "
                    "how many of them cut on a β tie");
  command->add_flag("--quiet", args->quiet, "leave out the per-layer, per-head table; no progress line on stderr");
  return {command, [args] { return run_forward(*args); }};
}

}  // namespace dmascope::cli
