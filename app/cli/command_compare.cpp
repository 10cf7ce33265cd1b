// `dmascope-cli compare`: the mask lab from the command line — every strategy's kept set on the same q, k, v and β of
// one forward, per layer and head, against dense attention (engine/lab/lab_job.h; definitions in
// core/lab/lab_metrics.h).
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <random>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "app/cli/compare_accuracy_curve.h"
#include "app/cli/progress_line.h"
#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/formats/atomic_write.h"
#include "core/model/doge_forward.h"
#include "core/model/forward_memory.h"
#include "core/tokenizer/tokenizer.h"
#include "engine/lab/lab_job.h"
#include "engine/lab/lab_table.h"

namespace dmascope::cli {

namespace {

struct CompareArguments {
  std::string model, ids, text, task, strategies, layers, csv, dam_calibration, accuracy_windows, backend = "cpu";
  std::int64_t random = 0, seed = 0, length = 256, window = 0, tile = 64, threads = 0;
  std::int64_t dam_sequences = 8, dam_capture_length = 512, dam_seed = 0, accuracy_sequences = 8;
  bool json = false, force = false, quiet = false, dense_without_bias = false, accuracy_curve = false, timing = false;
  CLI::Option* ids_option = nullptr;  // count(): whether it was given
  CLI::Option* text_option = nullptr;
  CLI::Option* random_option = nullptr;
  CLI::Option* task_option = nullptr;
  CLI::Option* dam_option = nullptr;
  CLI::Option* dam_sequences_option = nullptr;
  CLI::Option* dam_capture_option = nullptr;
  CLI::Option* accuracy_windows_option = nullptr;
  CLI::Option* accuracy_sequences_option = nullptr;
};

std::vector<std::int64_t> parse_layer_list(const std::string& text, std::int64_t layers, const std::string& model) {
  std::vector<std::int64_t> list;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    std::int64_t layer = 0;
    if (!command_line::parse_int64(text.substr(begin, comma - begin), layer))
      usage_fail("--layers: '{}' is not a list of layer numbers such as 0,2", text);
    if (layer < 0 || layer >= layers)
      usage_fail("--layers: {} is not a layer of {} (0..{})", layer, model, layers - 1);
    list.push_back(layer);
    begin = comma + 1;
  }
  return list;
}

std::vector<Strategy> parse_strategies(const std::string& text) {
  try {
    return parse_strategy_list(text);
  } catch (const Error& error) {
    usage_fail("--strategies: {}", error.what());
  }
}

// --accuracy-curve: whole forwards on trained-task sequences instead of the metrics of one (app/cli/compare_accuracy_curve.h).
int run_compare_accuracy_curve(const CompareArguments& args, const std::vector<Strategy>& strategies) {
  if (args.task_option->count() == 0) usage_fail("--accuracy-curve needs --task mqar|needle|copy (answers to score)");
  if (!args.csv.empty() || !args.layers.empty())
    usage_fail("--accuracy-curve scores the whole model's answers: it takes no --csv or --layers");
  if (!args.strategies.empty() && std::find(strategies.begin(), strategies.end(), Strategy::Dam) != strategies.end())
    usage_fail("--strategies: dam has no budget w, so it has no accuracy curve (choose from dma, shared, swa, sinks, "
               "oracle, nsa)");
  if (args.length < 64) usage_fail("--len: a trained task needs at least 64 tokens, got {}", args.length);
  if (args.threads > 0) set_worker_count(args.threads);
  const DogeModel model = DogeModel::load(args.model);
  if (model.config.vocab_size != toy_vocab::kSize)
    usage_fail("--task: the trained tasks are in the bundled toy models' vocabulary ({} ids); {} has {}",
               toy_vocab::kSize, model.dir.string(), model.config.vocab_size);
  AccuracyCurveRequest request;
  request.json = args.json;
  request.quiet = args.quiet;
  request.settings.task = toy_task_from_name(args.task);
  request.settings.length = args.length;
  request.settings.sequences = args.accuracy_sequences;
  request.settings.seed = static_cast<std::uint64_t>(args.seed);
  if (!args.strategies.empty()) request.settings.strategies = strategies;
  if (args.accuracy_windows_option->count() > 0) request.settings.windows = parse_accuracy_windows(args.accuracy_windows);
  if (args.window > 0 && args.accuracy_windows_option->count() == 0) request.settings.windows = {args.window};
  return run_accuracy_curve(model, request);
}

int run_compare(const CompareArguments& args) {
  const int sources = (args.ids_option->count() > 0) + (args.text_option->count() > 0) +
                      (args.random_option->count() > 0) + (args.task_option->count() > 0);
  if (sources != 1) usage_fail("give exactly one of --ids, --text, --random N or --task NAME");
  const std::vector<Strategy> strategies =
      args.strategies.empty() ? std::vector<Strategy>(kAllStrategies.begin(), kAllStrategies.end())
                              : parse_strategies(args.strategies);
  const bool wants_dam = std::find(strategies.begin(), strategies.end(), Strategy::Dam) != strategies.end();
  if (!wants_dam && (args.dam_option->count() + args.dam_sequences_option->count() +
                     args.dam_capture_option->count()) > 0)
    usage_fail("--dam-calibration, --dam-sequences and --dam-capture-length need dam among --strategies");

  if (!args.accuracy_curve && (args.accuracy_windows_option->count() + args.accuracy_sequences_option->count()) > 0)
    usage_fail("--accuracy-windows and --accuracy-sequences need --accuracy-curve");
  if (args.accuracy_curve) return run_compare_accuracy_curve(args, strategies);

  const DogeModel model = DogeModel::load(args.model);
  const std::int64_t model_layers = model.config.num_hidden_layers;
  LabSettings settings;
  settings.strategies = strategies;
  if (!args.layers.empty()) settings.layers = parse_layer_list(args.layers, model_layers, model.dir.string());
  settings.window = args.window;
  settings.dense_with_bias = !args.dense_without_bias;
  settings.tiles = {args.tile, args.tile};
  settings.backend = backend_from_name(args.backend);
  settings.dam_calibration = default_dam_calibration(model);
  settings.dam_calibration.sequences = args.dam_sequences;
  settings.dam_calibration.seed = static_cast<std::uint64_t>(args.dam_seed);
  settings.dam_calibration.dense_with_bias = settings.dense_with_bias;
  settings.dam_calibration.dam.capture_length = args.dam_capture_length;
  const bool toy_vocabulary = model.config.vocab_size == toy_vocab::kSize;
  if (args.task_option->count() > 0) settings.dam_calibration.task = toy_task_from_name(args.task);
  if (args.dam_option->count() > 0) {
    const std::string& source = args.dam_calibration;
    if (source == "random") {
      settings.dam_calibration.source = DamSource::Random;
    } else if (source == "task") {
      if (!toy_vocabulary)
        usage_fail("--dam-calibration: task sequences are in the bundled toy models' vocabulary; {} has another "
                   "(use random or text:FILE)", model.dir.string());
      settings.dam_calibration.source = DamSource::Task;
    } else if (source.rfind("text:", 0) == 0 && source.size() > 5) {
      if (!model.has_tokenizer) usage_fail("--dam-calibration: text needs a tokenizer.json in {}", model.dir.string());
      settings.dam_calibration.source = DamSource::Text;
      settings.dam_calibration.text_file = source.substr(5);
    } else {
      usage_fail("--dam-calibration: '{}' is not random, task or text:FILE", source);
    }
  }
  if (settings.dam_calibration.source == DamSource::Task && wants_dam &&
      args.dam_capture_length < 64)
    usage_fail("--dam-capture-length: task sequences need at least 64 tokens, got {}", args.dam_capture_length);
  if (args.threads > 0) set_worker_count(args.threads);

  std::vector<std::int32_t> ids;
  if (args.text_option->count() > 0) {
    if (!model.has_tokenizer) fail("compare: --text needs a tokenizer.json in {}", model.dir.string());
    ids = Tokenizer::load(model.dir / "tokenizer.json").encode(args.text, true);
  } else if (args.ids_option->count() > 0) {
    ids = parse_id_list(args.ids);
  } else if (args.task_option->count() > 0) {
    if (!toy_vocabulary)
      usage_fail("--task: the trained tasks are in the bundled toy models' vocabulary ({} ids); {} has {}",
                 toy_vocab::kSize, model.dir.string(), model.config.vocab_size);
    if (args.length < 64) usage_fail("--len: a trained task needs at least 64 tokens, got {}", args.length);
    ids = lab_task_ids(model, toy_task_from_name(args.task), args.length, static_cast<std::uint64_t>(args.seed), 0);
  } else {
    require_cpu_forward_memory(model, args.random, ForwardOptions{});
    std::mt19937 rng(static_cast<std::uint32_t>(args.seed));
    std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(model.config.vocab_size - 1));
    for (std::int64_t i = 0; i < args.random; ++i) ids.push_back(token(rng));
  }

  OutputRule rule{.force = args.force, .inputs = {}};
  if (!args.csv.empty()) {
    std::error_code error;
    for (std::filesystem::directory_iterator it(model.dir, error), end; !error && it != end; it.increment(error))
      rule.inputs.push_back(it->path());
    check_output_target(args.csv, rule);  // before the work: a refused output should not cost a forward pass
  }

  ProgressLine progress("compare", args.quiet);
  ForwardOptions options;
  options.window = args.window;
  options.capture = true;
  options.compute_logits = false;  // the lab reads the captures only; at 32K vocab the lm_head is most of a forward
  if (progress.shown())
    options.on_progress = [&progress](std::int64_t done, std::int64_t total) {
      progress.update(fmt::format("forward, layer {}/{}", done, total));
    };
  const ForwardResult forward = doge_forward(model, ids, options);
  const LabResult result = run_lab(model, forward, settings, [&progress](const LabProgress& step) {
    if (progress.shown()) progress.update(fmt::format("{} {}/{}", step.stage, step.done, step.total));
  });
  progress.clear();
  if (!result.dam_calibration.empty()) fmt::print(stderr, "dam: calibrated on {}\n", result.dam_calibration);
  if (args.timing)
    fmt::print(stderr, "timing: lab {:.0f} ms = DAM calibration {:.0f} ms + metrics {:.0f} ms ({} backend; {} layers × "
               "{} heads × {} strategies at {} tokens)\n", result.elapsed_ms, result.dam_calibration_ms,
               result.metrics_ms, args.backend, result.layers.size(), result.heads, strategies.size(), result.length);
  if (args.timing && result.dam_calibration_ms > 0) {
    const DamCalibrationTimes& t = result.dam_calibration_times;
    fmt::print(stderr, "timing: DAM calibration = setup {:.0f} ms + forwards {:.0f} ms + dense maps {:.0f} ms + patterns "
               "{:.0f} ms\n", t.load_ms, t.forward_ms, t.maps_ms, t.finish_ms);
  }
  std::int64_t non_finite = 0;
  for (const LabRow& row : result.rows) non_finite += row.metrics.non_finite;
  if (non_finite > 0)
    fmt::print(stderr, "compare: {} of {} rows met a NaN or infinity (their metrics are null)\n", non_finite,
               result.rows.size());

  if (args.json) {
    fmt::print("{}\n", lab_rows_json(result).dump(1));
  } else if (!args.csv.empty()) {
    write_file_atomically(args.csv, lab_rows_csv(result), rule);
    fmt::print("wrote {} rows ({} layers × {} heads × {} strategies, {} tokens, w = {}) to {} in {:.0f} ms\n",
               result.rows.size(), result.layers.size(), result.heads, strategies.size(), result.length,
               result.window, args.csv, result.elapsed_ms);
  } else {
    fmt::print("{} tokens, w = {}, dense reference {} β, {:.0f} ms\n", result.length, result.window,
               settings.dense_with_bias ? "with" : "without", result.elapsed_ms);
    const bool gpu = settings.backend == Backend::Cuda;
    fmt::print("{:>5} {:>4} {:<7} {:>8} {:>8} {:>8} {:>8} {:>9}{}\n", "layer", "head", "strategy", "tokens", "tiles",
               "recall", "min", "out err", gpu ? "   gpu ms kernel" : "");
    for (const LabRow& row : result.rows) {
      const StrategyMetrics& m = row.metrics;
      fmt::print("{:>5} {:>4} {:<7} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} {:>9.2e}{}\n", row.layer, row.head,
                 strategy_name(m.strategy), m.token_density, m.tile_density, m.mass_recall_mean, m.mass_recall_min,
                 m.output_rel_error, gpu ? fmt::format(" {:>8.3f} {}", m.gpu_ms, m.gpu_kernel) : "");
    }
  }
  return 0;
}

}  // namespace

Command add_compare_command(CLI::App& cli) {
  auto args = std::make_shared<CompareArguments>();
  CLI::App* command = cli.add_subcommand(
      "compare", "mask lab: each strategy's kept set against dense attention, per layer, head and strategy");
  command->add_option("--model", args->model, "the model folder (config.json + safetensors)")->required();
  args->ids_option = command->add_option("--ids", args->ids, "the token ids, e.g. 1,2,3")->check(id_list_check());
  args->text_option = command->add_option("--text", args->text, "a text, encoded with the model's tokenizer.json");
  args->random_option = command->add_option("--random", args->random, "N uniformly random tokens")
                            ->transform(integer_in(1, kMaxTokens));
  args->task_option = command->add_option("--task", args->task, "a trained-task sequence: mqar, needle or copy")
                          ->check(CLI::IsMember({"mqar", "needle", "copy"}));
  command->add_option("--len", args->length, "tokens of the --task sequence (default 256)")
      ->transform(integer_in(1, kMaxTokens));
  command->add_option("--seed", args->seed, "seed of --random's tokens and of --task's sequence (default 0)")
      ->transform(integer_in(0, UINT32_MAX));
  command->add_option("--window", args->window, "the budget w of every strategy (default: the model's keep_window_size)")
      ->transform(integer_in(1, kMaxTokens));
  command->add_option("--strategies", args->strategies,
                      "comma-separated, from " + all_strategy_names() + " (default: all)");
  command->add_option("--layers", args->layers, "comma-separated layers, e.g. 0,2 (default: all)");
  auto* json = command->add_flag("--json", args->json, "print a JSON array, one object per (layer, head, strategy)");
  command->add_option("--csv", args->csv, "write the rows as CSV to this file")->excludes(json);
  command->add_flag("--force", args->force, "replace an existing --csv file");
  command->add_flag("--dense-without-bias", args->dense_without_bias,
                    "the dense reference without β (default: with β, what DMA approximates)");
  command->add_option("--tile", args->tile, "tile side of tile_density, in tokens (default 64)")
      ->transform(integer_in(1, kMaxTokens));
  args->dam_option = command->add_option(
      "--dam-calibration", args->dam_calibration,
      "DAM's calibration source: task, random or text:FILE (default: task on a toy model, else random)");
  args->dam_sequences_option = command->add_option("--dam-sequences", args->dam_sequences,
                                                   "DAM calibration sequences N (default 8)")
                                   ->transform(integer_in(1, 100000));
  args->dam_capture_option = command->add_option("--dam-capture-length", args->dam_capture_length,
                                                 "DAM's pattern-capture length (default 512)")
                                 ->transform(integer_in(1, 8192));
  command->add_option("--dam-seed", args->dam_seed, "seed of DAM's task or random sequences (default 0)")
      ->transform(integer_in(0, kMaxSeed));
  command->add_option("--threads", args->threads, "CPU worker threads (default: all cores)")
      ->transform(integer_in(1, kMaxThreads));
  command->add_flag("--accuracy-curve", args->accuracy_curve,
                    "with --task: answer accuracy against w, each strategy's kept sets in the model's every layer "
                    "(default dma,swa,oracle)");
  args->accuracy_windows_option =
      command->add_option("--accuracy-windows", args->accuracy_windows,
                          "budgets of --accuracy-curve, e.g. 16,64,256 (default 4, 8, … up to --len)");
  args->accuracy_sequences_option = command->add_option("--accuracy-sequences", args->accuracy_sequences,
                                                        "task sequences per point of --accuracy-curve (default 8)")
                                        ->transform(integer_in(1, 100000));
  command->add_option("--backend", args->backend,
                      "where the metrics are computed: cpu (default) or cuda (also times each strategy on the GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  command->add_flag("--timing", args->timing, "print the lab's wall time (DAM calibration, metrics) on stderr");
  command->add_flag("--quiet", args->quiet, kQuietHelp);
  return {command, [args] { return run_compare(*args); }};
}

}  // namespace dmascope::cli
