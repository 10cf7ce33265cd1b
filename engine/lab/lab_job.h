// The mask lab's job: given a model and a forward result (captures on), every chosen strategy × layer × query head
// → metrics (core/lab/lab_metrics.h), with DAM calibrated first on the source the settings name. Runs on the calling
// thread (the app calls it from its worker; the CLI directly) with a progress callback and a cancel flag; a cancelled
// job throws LabCancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/compute/backend_kind.h"
#include "core/lab/dam.h"
#include "core/lab/lab_metrics.h"
#include "core/lab/strategy.h"
#include "core/model/doge_forward.h"
#include "core/toy/toy_tasks.h"

namespace dmascope {

// Where DAM's calibration sequences come from.
enum class DamSource : std::uint8_t {
  Task,    // trained-task sequences (core/toy/toy_tasks.h) at the capture length; the bundled toy models' format
  Text,    // a text file through the model's tokenizer, cut into consecutive pieces of the capture length
  Random,  // uniformly random ids
};
std::string_view dam_source_name(DamSource source);  // "task", "text", "random"

struct DamCalibrationSettings {
  DamSource source = DamSource::Random;
  ToyTask task = ToyTask::Mqar;          // for Task
  std::filesystem::path text_file;       // for Text
  std::int64_t sequences = 8;            // N (the paper averages a few hundred documents; 8 keeps a CLI run short)
  std::uint64_t seed = 0;                // for Task and Random
  bool dense_with_bias = true;           // the maps: dense attention with β (as the lab's reference) or without
  DamSettings dam;                       // Lc, λ, τ, μ, ε
  // Where the calibration forwards run, in fp32 (the exact reference; a GPU's fp32 forward is the CPU's twin): the
  // lab sets its own backend. The CPU when this backend cannot run the model. The dense maps are the CPU's.
  Backend backend = Backend::Cpu;
};

// The default source for a model: its trained task when it speaks the toy vocabulary, else random ids.
DamCalibrationSettings default_dam_calibration(const DogeModel& model);

struct LabSettings {
  std::vector<Strategy> strategies{kAllStrategies.begin(), kAllStrategies.end()};
  std::vector<std::int64_t> layers;   // empty: all
  std::int64_t window = 0;            // the budget w; 0: the forward's window
  bool dense_with_bias = true;
  TileShape tiles;
  DamCalibrationSettings dam_calibration;
  // Masks calibrated earlier ([layers · heads], calibrate_dam's result): used as they are instead of calibrating
  // again (the app calibrates once per model and source).
  std::shared_ptr<const std::vector<DamHeadMask>> dam_masks;
  std::string dam_masks_description;  // what they were calibrated on, for LabResult::dam_calibration
  // Where the metrics are computed (engine/backend/backend_factory.h): the CPU, or the GPU, which also times each
  // strategy's sparse attention (StrategyMetrics::gpu_ms). DAM's calibration forwards run there too (fp32).
  Backend backend = Backend::Cpu;
};

struct LabProgress {
  std::int64_t done = 0, total = 0;  // units of work: calibration sequences, then (layer, head) pairs
  std::string stage;                 // "DAM calibration", "metrics"
};

struct LabRow {
  std::int64_t layer = 0, head = 0;
  StrategyMetrics metrics;
};

// Where DAM's calibration spends its time, in wall-clock ms.
struct DamCalibrationTimes {
  double load_ms = 0;     // before the first forward: the sequences, the averages' buffers, the forward's setup
  double forward_ms = 0;  // the N forwards with their captures
  double maps_ms = 0;     // the dense maps of every (layer, head), added to the averages
  double finish_ms = 0;   // Box-Cox, true masks, pattern matching, extended masks
};

struct LabResult {
  std::int64_t length = 0, window = 0, heads = 0;
  std::vector<std::int64_t> layers;          // the layers computed, ascending
  std::vector<LabRow> rows;                  // layer-major, then head, then strategy in settings order
  std::vector<DamHeadMask> dam;              // [all model layers · heads] when dam was calibrated, else empty
  std::vector<HeadLabel> head_labels;        // [all model layers · heads] from the DAM patterns, when calibrated
  std::string dam_calibration;               // what DAM calibrated on, in words ("" when dam was not asked for)
  double elapsed_ms = 0;
  double dam_calibration_ms = 0;  // of elapsed_ms: DAM's calibration (0 when given masks or no dam)
  DamCalibrationTimes dam_calibration_times;  // its stages
  double metrics_ms = 0;          // of elapsed_ms: the metrics of every layer, head and strategy
};

// DAM calibration alone: N forward passes at Lc on the settings' source; dense maps per (layer, head).
// `progress` (optional) gets (sequences done, N). Error naming the text file or tokenizer when they cannot be used.
// `times` (optional) gets the wall time of each stage.
std::vector<DamHeadMask> calibrate_dam(const DogeModel& model, const DamCalibrationSettings& settings,
                                       const std::function<void(std::int64_t, std::int64_t)>& progress,
                                       const std::atomic<bool>* cancel, std::string* description,
                                       DamCalibrationTimes* times = nullptr);

LabResult run_lab(const DogeModel& model, const ForwardResult& forward, const LabSettings& settings,
                  const std::function<void(const LabProgress&)>& progress = {},
                  const std::atomic<bool>* cancel = nullptr);

// Mass recall (mean over rows) against the budget, per head and strategy: [layer][head][strategy][window index].
// dam is left out (it has no budget).
struct BudgetCurves {
  std::vector<std::int64_t> windows;
  std::vector<Strategy> strategies;
  std::vector<std::int64_t> layers;
  std::int64_t heads = 0;
  std::vector<double> recall;  // [layers.size(), heads, strategies.size(), windows.size()]
  double at(std::size_t layer_index, std::int64_t head, std::size_t strategy_index, std::size_t window_index) const;
};
BudgetCurves budget_curves(const ForwardResult& forward, const std::vector<std::int64_t>& windows,
                           const LabSettings& settings, const std::atomic<bool>* cancel = nullptr);

// A/B: the difference of two results over the (layer, head, strategy) rows both hold (B − A), and the keys one
// kept set has that the other lacks.
struct LabDiffRow {
  std::int64_t layer = 0, head = 0;
  Strategy strategy_a = Strategy::Dma, strategy_b = Strategy::Dma;
  double delta_token_density = 0, delta_tile_density = 0, delta_recall_mean = 0, delta_recall_min = 0;
  double delta_output_rel_error = 0, delta_kept_set_ms = 0;
};
// Rows matched by (layer, head) and position of the strategy in each result's list: a = b strategies compare two
// windows or two models; two one-strategy results compare two strategies.
std::vector<LabDiffRow> diff_lab_results(const LabResult& a, const LabResult& b);

// The ids of trained-task sequence `index` at `length` tokens, the training distribution trimmed to what fits (as
// the pipeline's trained-task source does). Error when the model does not speak the toy vocabulary.
std::vector<std::int32_t> lab_task_ids(const DogeModel& model, ToyTask task, std::int64_t length, std::uint64_t seed,
                                       std::uint64_t index);
// The same sequence with its answer rows (what the answer-accuracy curves score).
ToyExample lab_task_example(const DogeModel& model, ToyTask task, std::int64_t length, std::uint64_t seed,
                            std::uint64_t index);

// Keys gained (kept by b, not by a) and lost (kept by a, not by b) over all rows of one head.
struct KeptSetDiff {
  std::int64_t gained = 0, lost = 0, common = 0;
};
KeptSetDiff diff_kept_sets(const LabHead& head_a, Strategy a, const LabHead& head_b, Strategy b);

}  // namespace dmascope
