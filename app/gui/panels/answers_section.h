// The answers of a trained-task sequence in the window (answers_section.cpp): the Overview panel's table and labels,
// the heatmap's markers. Each is a no-op for a result without answers.
#pragma once

#include <imgui.h>

#include <string>

#include "app/gui/app_state.h"

namespace dmascope::gui {

// "27/32": how many answers' keys that head's mask kept; empty without answers.
std::string answers_thumbnail_label(const PipelineResult& result, std::int64_t layer, std::int64_t bias_head);
// Score, keys kept per layer, and (with_table) one table row per answer (a click opens it in the heatmap).
void draw_answers_section(AppState& state, const PipelineResult& result, bool with_table);
// On each visible answer's (row, key to copy) cell: a green ring where the viewed head's mask kept the key, a red
// cross where it dropped it.
void draw_answer_markers(const AppState& state, const PipelineResult& result, ImDrawList* draw_list, ImVec2 origin,
                         float side, const MatrixWindow& window);
// The markers' legend on one line at `at`; returns its width (0 without answers, then nothing is drawn).
float draw_answer_legend(const PipelineResult& result, ImDrawList* draw_list, ImVec2 at);

}  // namespace dmascope::gui
