#include "engine/lab/lab_table.h"

#include <fmt/format.h>

#include <cmath>

namespace dmascope {

namespace {

nlohmann::json number(double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr); }

std::string csv_number(double value) { return std::isfinite(value) ? fmt::format("{:.9g}", value) : std::string(); }

std::string head_label(const LabResult& result, const LabRow& row) {
  const auto index = static_cast<std::size_t>(row.layer * result.heads + row.head);
  return index < result.head_labels.size() ? std::string(head_label_name(result.head_labels[index])) : std::string();
}

}  // namespace

nlohmann::json lab_rows_json(const LabResult& result) {
  nlohmann::json rows = nlohmann::json::array();
  for (const LabRow& row : result.rows) {
    const StrategyMetrics& m = row.metrics;
    nlohmann::json bands = nlohmann::json::array();
    for (double band : m.mass_recall_by_band) bands.push_back(number(band));
    nlohmann::json object = {{"layer", row.layer},
                             {"head", row.head},
                             {"strategy", std::string(strategy_name(m.strategy))},
                             {"window", m.window},
                             {"length", result.length},
                             {"token_density", number(m.token_density)},
                             {"tile_density", number(m.tile_density)},
                             {"mass_recall_mean", number(m.mass_recall_mean)},
                             {"mass_recall_min", number(m.mass_recall_min)},
                             {"mass_recall_by_band", bands},
                             {"output_rel_error", number(m.output_rel_error)},
                             {"kept_entries", m.kept_entries},
                             {"causal_entries", m.causal_entries},
                             {"active_tiles", m.active_tiles},
                             {"causal_tiles", m.causal_tiles},
                             {"empty_rows", m.empty_rows},
                             {"gpu_ms", number(m.gpu_ms)},
                             {"gpu_kernel", m.gpu_kernel.empty() ? nlohmann::json() : nlohmann::json(m.gpu_kernel)},
                             {"non_finite", m.non_finite}};
    const std::string label = head_label(result, row);
    if (!label.empty()) object["head_label"] = label;
    rows.push_back(std::move(object));
  }
  return rows;
}

std::string lab_rows_csv(const LabResult& result) {
  std::string text =
      "layer,head,strategy,window,length,token_density,tile_density,mass_recall_mean,mass_recall_min";
  for (std::int64_t b = 0; b < kRecallRowBands; ++b) text += fmt::format(",mass_recall_band{}", b);
  text += ",output_rel_error,kept_entries,causal_entries,active_tiles,causal_tiles,empty_rows,gpu_ms,gpu_kernel,non_finite,head_label\n";
  for (const LabRow& row : result.rows) {
    const StrategyMetrics& m = row.metrics;
    text += fmt::format("{},{},{},{},{},{},{},{},{}", row.layer, row.head, strategy_name(m.strategy), m.window,
                        result.length, csv_number(m.token_density), csv_number(m.tile_density),
                        csv_number(m.mass_recall_mean), csv_number(m.mass_recall_min));
    for (std::size_t b = 0; b < static_cast<std::size_t>(kRecallRowBands); ++b) {
      text += ',';
      if (b < m.mass_recall_by_band.size()) text += csv_number(m.mass_recall_by_band[b]);
    }
    text += fmt::format(",{},{},{},{},{},{},{},{},{},{}\n", csv_number(m.output_rel_error), m.kept_entries,
                        m.causal_entries, m.active_tiles, m.causal_tiles, m.empty_rows, csv_number(m.gpu_ms),
                        m.gpu_kernel, m.non_finite ? "true" : "false", head_label(result, row));
  }
  return text;
}

nlohmann::json accuracy_curve_json(const AccuracyCurve& curve) {
  nlohmann::json points = nlohmann::json::array();
  for (std::size_t s = 0; s < curve.strategies.size(); ++s)
    for (std::size_t w = 0; w < curve.windows.size(); ++w)
      points.push_back({{"task", std::string(toy_task_name(curve.task))},
                        {"length", curve.length},
                        {"sequences", curve.sequences},
                        {"strategy", std::string(strategy_name(curve.strategies[s]))},
                        {"window", curve.windows[w]},
                        {"correct", curve.correct.at(s * curve.windows.size() + w)},
                        {"answers", curve.answers},
                        {"accuracy", number(curve.accuracy(s, w))},
                        {"model_window", curve.model_window},
                        {"model_correct", curve.model_correct},
                        {"model_accuracy", number(curve.model_accuracy())}});
  return points;
}

}  // namespace dmascope
