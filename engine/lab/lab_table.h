// The lab's rows as text for the CLI and the app's exports: a JSON array of one object per (layer, head, strategy)
// and the same as CSV with a header line. Field names are the metric names of core/lab/lab_metrics.h; a NaN
// (non-finite inputs) is JSON null and an empty CSV field, with non_finite true beside it.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "engine/lab/answer_accuracy.h"
#include "engine/lab/lab_job.h"

namespace dmascope {

nlohmann::json lab_rows_json(const LabResult& result);
std::string lab_rows_csv(const LabResult& result);
// One object per (strategy, window) of an answer-accuracy curve: task, length, sequences, strategy, window, correct,
// answers, accuracy, and the model's own forward beside it (model_window, model_correct, model_accuracy).
nlohmann::json accuracy_curve_json(const AccuracyCurve& curve);

}  // namespace dmascope
