// What the Mask lab window keeps between frames: the settings being edited, the worker that runs the lab, the
// table's sort, each view's choices and the textures of the pictures it shows.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/gui/engine_vocabulary.h"
#include "app/gui/render/grid_renderer.h"
#include "app/gui/panels/lab_picture_job.h"
#include "engine/lab/lab_runner.h"

namespace dmascope::gui {

// The metric the Overview shows per head and strategy.
enum class LabMetric : int { Recall = 0, OutputError = 1, TokenDensity = 2, TileDensity = 3 };

struct LabEdit {
  std::array<bool, kAllStrategies.size()> strategies{true, true, true, true, true, true, true};
  int window = 0;               // 0: the forward's window
  bool dense_with_bias = true;
  int dam_source = static_cast<int>(DamSource::Task);  // DamSource; Task falls back to Random off the toy vocabulary
  int dam_sequences = 4;
  int dam_capture_length = 128;
  std::array<char, 512> dam_text_file{};  // for DamSource::Text
  bool budget_curves = true;
};

struct LabPanelState {
  explicit LabPanelState(const std::function<void()>& wake) : runner(wake), dropped_job(wake), ab_job(wake) {}
  bool open = false;            // the window is shown (View menu / --lab)
  bool run_requested = false;   // --lab: run once the pipeline's result is there
  std::string select_tab;       // --lab-tab: open this tab once
  LabEdit edit;
  LabRunner runner;
  int sort_column = 0;
  bool sort_descending = false;
  LabMetric overview_metric = LabMetric::Recall;
  int dropped_strategy = 0;     // index into the run's strategies
  int ab_a = -1, ab_b = -1;     // runs() indices; -1: the newest two
  int ab_strategy_a = 0, ab_strategy_b = 2;  // indices into each run's strategies: dma against swa by default
  int dam_layer = 0, dam_head = 0;
  // Pictures: the dropped-mass grid and DAM's five stages (their keys say what was uploaded).
  LabPictureJob dropped_job;    // the dropped-mass picture, computed off the UI thread
  GridTexture dropped_mass;     // holds dropped_job's finished picture
  std::array<GridTexture, 5> dam_stages;
  std::array<float, 5> dam_stage_high{};
  std::string dam_stages_key;
  // What the last frame showed, for --layout-json (screenshot tests): the tab and its main picture (x0 y0 x1 y1).
  std::string drawn_tab;
  std::array<float, 4> drawn_picture{};
  LabPictureJob ab_job;         // the A/B keys picture and counts
  GridTexture ab_keys;          // gained / lost / common per pixel: ab_job's finished picture
};

}  // namespace dmascope::gui
