#include "engine/lab/lab_job.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/lab/lab_head.h"
#include "core/tokenizer/tokenizer.h"
#include "engine/backend/backend_factory.h"

namespace dmascope {

namespace {

bool speaks_toy_vocabulary(const DogeModel& model) { return model.config.vocab_size == toy_vocab::kSize; }

// A trained task needs room for a few pairs and their queries (the pipeline's kMinTaskLength).
constexpr std::int64_t kMinLabTaskLength = 64;

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel != nullptr && cancel->load()) throw LabCancelled();
}

std::vector<std::vector<std::int32_t>> calibration_sequences(const DogeModel& model,
                                                             const DamCalibrationSettings& settings) {
  const std::int64_t Lc = settings.dam.capture_length, N = settings.sequences;
  if (N < 1) fail("DAM calibration: {} sequences asked for; at least 1 is needed", N);
  std::vector<std::vector<std::int32_t>> sequences;
  switch (settings.source) {
    case DamSource::Task:
      for (std::int64_t n = 0; n < N; ++n)
        sequences.push_back(lab_task_ids(model, settings.task, Lc, settings.seed, static_cast<std::uint64_t>(n)));
      break;
    case DamSource::Random: {
      std::mt19937_64 rng(settings.seed);
      std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(model.config.vocab_size - 1));
      for (std::int64_t n = 0; n < N; ++n) {
        std::vector<std::int32_t> ids(static_cast<std::size_t>(Lc));
        for (auto& id : ids) id = token(rng);
        sequences.push_back(std::move(ids));
      }
      break;
    }
    case DamSource::Text: {
      if (!model.has_tokenizer)
        fail("DAM calibration on a text needs a tokenizer.json in {}", model.dir.string());
      std::ifstream in(settings.text_file, std::ios::binary);
      if (!in) fail("DAM calibration: cannot read the text file {}", settings.text_file.string());
      std::ostringstream text;
      text << in.rdbuf();
      const auto ids = Tokenizer::load(model.dir / "tokenizer.json").encode(text.str(), true);
      // Consecutive pieces of Lc tokens; a last piece shorter than that counts too (right padding, as the paper's
      // batches), unless it is a single token.
      for (std::size_t begin = 0; begin < ids.size() && static_cast<std::int64_t>(sequences.size()) < N;
           begin += static_cast<std::size_t>(Lc)) {
        const std::size_t end = std::min(ids.size(), begin + static_cast<std::size_t>(Lc));
        if (end - begin < 2 && !sequences.empty()) break;
        sequences.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(begin),
                               ids.begin() + static_cast<std::ptrdiff_t>(end));
      }
      if (sequences.empty()) fail("DAM calibration: the text file {} holds no tokens", settings.text_file.string());
      break;
    }
  }
  return sequences;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string_view dam_source_name(DamSource source) {
  switch (source) {
    case DamSource::Task: return "task";
    case DamSource::Text: return "text";
    case DamSource::Random: return "random";
  }
  return "?";
}

DamCalibrationSettings default_dam_calibration(const DogeModel& model) {
  DamCalibrationSettings settings;
  settings.source = speaks_toy_vocabulary(model) ? DamSource::Task : DamSource::Random;
  return settings;
}

std::vector<std::int32_t> lab_task_ids(const DogeModel& model, ToyTask task, std::int64_t length, std::uint64_t seed,
                                       std::uint64_t index) {
  return lab_task_example(model, task, length, seed, index).ids;
}

ToyExample lab_task_example(const DogeModel& model, ToyTask task, std::int64_t length, std::uint64_t seed,
                            std::uint64_t index) {
  if (!speaks_toy_vocabulary(model))
    fail("the trained tasks are sequences of the bundled toy models' vocabulary ({} ids); {} has {}", toy_vocab::kSize,
         model.dir.string(), model.config.vocab_size);
  if (length < kMinLabTaskLength) fail("a trained task needs at least {} tokens, got {}", kMinLabTaskLength, length);
  ToyTaskSettings task_settings;
  task_settings.length = length;
  task_settings.mqar_pairs_max = std::min(task_settings.mqar_pairs_max, (length - 2) / 4);
  task_settings.copy_length_max = std::min(task_settings.copy_length_max, (length - 4) / 2);
  return make_toy_example(task, task_settings, seed, index);
}

std::vector<DamHeadMask> calibrate_dam(const DogeModel& model, const DamCalibrationSettings& settings,
                                       const std::function<void(std::int64_t, std::int64_t)>& progress,
                                       const std::atomic<bool>* cancel, std::string* description,
                                       DamCalibrationTimes* times) {
  settings.dam.validate();
  DamCalibrationTimes spent;
  auto stage_start = std::chrono::steady_clock::now();
  const auto sequences = calibration_sequences(model, settings);
  const std::int64_t layers = model.config.num_hidden_layers, heads = model.config.num_attention_heads;
  DamCalibration calibration(layers, heads, settings.dam.capture_length);
  // The forwards on the asked backend in fp32, else (a backend that cannot run here or cannot run this model) on the
  // CPU; the description says which.
  Backend used = settings.backend;
  const ComputeBackend* backend = &engine::compute_backend(used);
  if (!backend->unsupported_reason().empty() || !backend->forward_unsupported_reason(model).empty()) {
    used = Backend::Cpu;
    backend = &engine::compute_backend(used);
  }
  const std::unique_ptr<ModelForward> model_forward = backend->load_forward(model);
  spent.load_ms = ms_since(stage_start);
  ForwardRequest request;
  request.attention_inputs = true;
  request.logits = LogitRows::None;  // at a large vocabulary the lm_head is most of a short forward's time
  request.precision = Precision::F32;
  request.tile_maps_on_device = false;
  const auto total = static_cast<std::int64_t>(sequences.size());
  for (std::int64_t n = 0; n < total; ++n) {
    check_cancel(cancel);
    if (progress) progress(n, total);
    ForwardOptions options;
    options.capture = true;
    options.compute_logits = false;
    options.cancel = cancel;
    const auto& ids = sequences[static_cast<std::size_t>(n)];
    stage_start = std::chrono::steady_clock::now();
    const ForwardResult forward = model_forward->run(ids, options, request).forward;
    spent.forward_ms += ms_since(stage_start);
    stage_start = std::chrono::steady_clock::now();
    const auto length = static_cast<std::int64_t>(ids.size());
    std::vector<LabLayer> lab_layers;
    lab_layers.reserve(static_cast<std::size_t>(layers));
    for (std::int64_t layer = 0; layer < layers; ++layer)
      lab_layers.emplace_back(forward.layers[static_cast<std::size_t>(layer)], forward.window);
    // One (layer, head) per task, each map on its own thread: the maps are small (Lc ≤ a few thousand), so one
    // parallel_for per map would spend more on starting threads than on the map.
    parallel_for(layers * heads, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t item = begin; item < end; ++item) {
        const std::int64_t layer = item / heads, head = item % heads;
        const LabHead lab_head = lab_layers[static_cast<std::size_t>(layer)].head(head);
        calibration.add_map(layer, head, dense_attention_map(lab_head, settings.dense_with_bias, false), length);
      }
    });
    calibration.end_sequence(length);
    spent.maps_ms += ms_since(stage_start);
  }
  if (progress) progress(total, total);
  if (description != nullptr) {
    std::string source;
    switch (settings.source) {
      case DamSource::Task: source = fmt::format("{} trained-task sequences ({}, seed {})", total,
                                                 toy_task_name(settings.task), settings.seed); break;
      case DamSource::Random: source = fmt::format("{} random-id sequences (seed {})", total, settings.seed); break;
      case DamSource::Text: source = fmt::format("{} pieces of {}", total, settings.text_file.string()); break;
    }
    *description = fmt::format("{} of up to {} tokens (fp32 forwards on the {}), dense maps {} β; λ {}, τ {}, μ {}",
                               source, settings.dam.capture_length, used == Backend::Cpu ? "CPU" : "GPU",
                               settings.dense_with_bias ? "with" : "without", settings.dam.lambda, settings.dam.tau,
                               settings.dam.mu);
  }
  stage_start = std::chrono::steady_clock::now();
  std::vector<DamHeadMask> masks = calibration.finish(settings.dam);
  spent.finish_ms = ms_since(stage_start);
  if (times != nullptr) *times = spent;
  return masks;
}

LabResult run_lab(const DogeModel& model, const ForwardResult& forward, const LabSettings& settings,
                  const std::function<void(const LabProgress&)>& progress, const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  if (settings.strategies.empty()) fail("mask lab: no strategy chosen");
  const auto model_layers = static_cast<std::int64_t>(forward.layers.size());
  if (model_layers == 0) fail("mask lab: the forward result holds no layer captures (run it with capture on)");
  LabResult result;
  result.window = settings.window > 0 ? settings.window : forward.window;
  result.heads = model.config.num_attention_heads;
  result.length = forward.layers[0].q_rope.defined() && forward.layers[0].q_rope.rank() == 4
                      ? forward.layers[0].q_rope.dim(2) : 0;
  result.layers = settings.layers;
  if (result.layers.empty())
    for (std::int64_t layer = 0; layer < model_layers; ++layer) result.layers.push_back(layer);
  std::sort(result.layers.begin(), result.layers.end());
  result.layers.erase(std::unique(result.layers.begin(), result.layers.end()), result.layers.end());
  for (std::int64_t layer : result.layers)
    if (layer < 0 || layer >= model_layers) fail("mask lab: layer {} out of range (the model has {})", layer,
                                                 model_layers);

  const bool wants_dam =
      std::find(settings.strategies.begin(), settings.strategies.end(), Strategy::Dam) != settings.strategies.end();
  std::shared_ptr<const std::vector<DamHeadMask>> dam = settings.dam_masks;
  const auto calibration_start = std::chrono::steady_clock::now();
  if (wants_dam && dam == nullptr) {
    DamCalibrationSettings calibration_settings = settings.dam_calibration;
    calibration_settings.backend = settings.backend;
    auto calibrated = calibrate_dam(
        model, calibration_settings,
        [&](std::int64_t done, std::int64_t total) {
          if (progress) progress({done, total, "DAM calibration"});
        },
        cancel, &result.dam_calibration, &result.dam_calibration_times);
    dam = std::make_shared<const std::vector<DamHeadMask>>(std::move(calibrated));
    result.dam_calibration_ms = ms_since(calibration_start);
  } else if (wants_dam) {
    result.dam_calibration = settings.dam_masks_description;
  }
  if (dam != nullptr) {
    if (static_cast<std::int64_t>(dam->size()) != model_layers * result.heads)
      fail("mask lab: {} DAM masks given for {} layers × {} heads", dam->size(), model_layers, result.heads);
    result.dam = *dam;
    for (const DamHeadMask& mask : result.dam) result.head_labels.push_back(dam_head_label(mask));
  }

  const ComputeBackend& backend = engine::compute_backend(settings.backend);
  if (const std::string why = backend.unsupported_reason(); !why.empty())
    fail("mask lab on the {} backend: {}", backend_name(settings.backend), why);
  LabMetricOptions options;
  options.dense_with_bias = settings.dense_with_bias;
  options.tiles = settings.tiles;
  options.cancel = cancel;
  const auto metrics_start = std::chrono::steady_clock::now();
  const std::int64_t total = static_cast<std::int64_t>(result.layers.size()) * result.heads;
  std::int64_t done = 0;
  for (std::int64_t layer : result.layers) {
    check_cancel(cancel);
    const LabLayer lab_layer(forward.layers[static_cast<std::size_t>(layer)], result.window);
    for (std::int64_t head = 0; head < result.heads; ++head) {
      if (progress) progress({done, total, "metrics"});
      const DamHeadMask* head_dam =
          dam != nullptr ? &(*dam)[static_cast<std::size_t>(layer * result.heads + head)] : nullptr;
      for (StrategyMetrics& metrics :
           backend.lab_head_metrics(lab_layer.head(head, head_dam), settings.strategies, options))
        result.rows.push_back({layer, head, std::move(metrics)});
      ++done;
    }
  }
  if (progress) progress({total, total, "metrics"});
  result.metrics_ms = ms_since(metrics_start);
  result.elapsed_ms = ms_since(start);
  return result;
}

double BudgetCurves::at(std::size_t layer_index, std::int64_t head, std::size_t strategy_index,
                        std::size_t window_index) const {
  const std::size_t index =
      ((layer_index * static_cast<std::size_t>(heads) + static_cast<std::size_t>(head)) * strategies.size() +
       strategy_index) * windows.size() + window_index;
  return recall.at(index);
}

BudgetCurves budget_curves(const ForwardResult& forward, const std::vector<std::int64_t>& windows,
                           const LabSettings& settings, const std::atomic<bool>* cancel) {
  BudgetCurves curves;
  curves.windows = windows;
  for (Strategy strategy : settings.strategies)
    if (strategy != Strategy::Dam) curves.strategies.push_back(strategy);
  const auto model_layers = static_cast<std::int64_t>(forward.layers.size());
  curves.layers = settings.layers;
  if (curves.layers.empty())
    for (std::int64_t layer = 0; layer < model_layers; ++layer) curves.layers.push_back(layer);
  for (std::int64_t w : windows)
    if (w < 1) fail("budget curves: window {} must be ≥ 1", w);
  for (std::int64_t layer : curves.layers)
    if (layer < 0 || layer >= model_layers) fail("budget curves: layer {} out of range", layer);
  if (curves.layers.empty() || curves.strategies.empty() || windows.empty()) return curves;
  curves.heads = forward.layers[0].q_rope.dim(1);
  curves.recall.assign(curves.layers.size() * static_cast<std::size_t>(curves.heads) * curves.strategies.size() *
                           windows.size(), 0.0);
  LabMetricOptions options;
  options.dense_with_bias = settings.dense_with_bias;
  options.tiles = settings.tiles;
  options.cancel = cancel;
  for (std::size_t l = 0; l < curves.layers.size(); ++l)
    for (std::size_t w = 0; w < windows.size(); ++w) {
      check_cancel(cancel);
      const LabLayer lab_layer(forward.layers[static_cast<std::size_t>(curves.layers[l])], windows[w]);
      for (std::int64_t head = 0; head < curves.heads; ++head) {
        const auto metrics = head_metrics(lab_layer.head(head), curves.strategies, options);
        for (std::size_t s = 0; s < metrics.size(); ++s)
          curves.recall[((l * static_cast<std::size_t>(curves.heads) + static_cast<std::size_t>(head)) *
                             curves.strategies.size() + s) * windows.size() + w] = metrics[s].mass_recall_mean;
      }
    }
  return curves;
}

std::vector<LabDiffRow> diff_lab_results(const LabResult& a, const LabResult& b) {
  const auto single_strategy = [](const LabResult& result) {
    return std::all_of(result.rows.begin(), result.rows.end(), [&](const LabRow& row) {
      return row.metrics.strategy == result.rows.front().metrics.strategy;
    });
  };
  // Two one-strategy results compare those strategies; otherwise rows pair up by strategy.
  const bool across_strategies = !a.rows.empty() && !b.rows.empty() && single_strategy(a) && single_strategy(b);
  std::vector<LabDiffRow> diff;
  for (const LabRow& row_a : a.rows)
    for (const LabRow& row_b : b.rows) {
      if (row_a.layer != row_b.layer || row_a.head != row_b.head) continue;
      if (!across_strategies && row_a.metrics.strategy != row_b.metrics.strategy) continue;
      const StrategyMetrics &ma = row_a.metrics, &mb = row_b.metrics;
      diff.push_back({row_a.layer, row_a.head, ma.strategy, mb.strategy, mb.token_density - ma.token_density,
                      mb.tile_density - ma.tile_density, mb.mass_recall_mean - ma.mass_recall_mean,
                      mb.mass_recall_min - ma.mass_recall_min, mb.output_rel_error - ma.output_rel_error,
                      mb.kept_set_ms - ma.kept_set_ms});
    }
  return diff;
}

KeptSetDiff diff_kept_sets(const LabHead& head_a, Strategy a, const LabHead& head_b, Strategy b) {
  if (head_a.length != head_b.length)
    fail("kept-set diff: the heads have different lengths ({} and {})", head_a.length, head_b.length);
  const KeptSetBuilder builder_a(head_a), builder_b(head_b);
  KeptSetDiff diff;
  constexpr std::int64_t kChunkRows = 64;
  for (std::int64_t r0 = 0; r0 < head_a.length; r0 += kChunkRows) {
    const std::int64_t r1 = std::min(head_a.length, r0 + kChunkRows);
    const KeptRows rows_a = builder_a.rows(a, r0, r1), rows_b = builder_b.rows(b, r0, r1);
    for (std::int64_t i = r0; i < r1; ++i) {
      const auto x = rows_a.row(i), y = rows_b.row(i);
      std::size_t p = 0, q = 0;
      std::int64_t common = 0;
      while (p < x.size() && q < y.size()) {
        if (x[p] == y[q]) ++common, ++p, ++q;
        else if (x[p] < y[q]) ++p;
        else ++q;
      }
      diff.common += common;
      diff.lost += static_cast<std::int64_t>(x.size()) - common;
      diff.gained += static_cast<std::int64_t>(y.size()) - common;
    }
  }
  return diff;
}

}  // namespace dmascope
