// The data dmascope ships with: the bundled models (assets/models), the tour (assets/tours) and the recall table,
// and the first-launch session built from them. Found next to the executable in ../share/dmascope (the layout
// `cmake --install` makes: bin/dmascope, share/dmascope/{models,tours}), else in assets/ of the source tree this binary
// was built from (a build tree).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/session/session_file.h"

namespace dmascope::engine {

std::filesystem::path bundled_assets_dir();        // holds models/ and tours/
// <prefix>/share/dmascope for an executable at <prefix>/bin/NAME when that folder holds models/, else empty.
std::filesystem::path installed_assets_dir(const std::filesystem::path& executable);
std::filesystem::path bundled_tour();              // tours/dma-intro.json
std::filesystem::path bundled_recall_table();      // models/recall-table.json
std::filesystem::path first_launch_model();        // models/doge-toy-mix: a model trained with DMA

// What the app shows when started without a session or a model: the trained toy model on an MQAR example of its
// training format (the "trained task" source, so its answers are scored), its own window, 16×16 tiles. Falls back to
// `fallback_model` with the default settings when the trained model is not there.
Session first_launch_session(const std::filesystem::path& fallback_model);

// One bundled model folder, for the About window: its shape and, for the trained ones, the held-out accuracy its
// eval_examples.json records.
struct BundledModel {
  std::string name;                 // the folder's name
  std::filesystem::path dir;
  std::string shape;                // "2 layers, 4 heads (2 kv), hidden 256, window 64, vocabulary 329"
  std::string run;                  // the training run it came from ("dma-mix"), empty when untrained
  std::vector<std::pair<std::string, double>> heldout_accuracy;  // ("copy", 0.70), sorted by task name
  std::optional<std::string> sample_text;  // its sample.txt without trailing newlines, when it has one
  std::string error;                // why the folder could not be described (shown instead of the rest)
};
std::vector<BundledModel> find_bundled_models();  // sorted by name; never throws

// The sample sequence in `model_dir`/sample.txt without its trailing newlines, or nothing when there is no such file.
// Read like every other file: a FIFO, a device or more text than a session may hold is an Error naming the file.
std::optional<std::string> read_model_sample(const std::filesystem::path& model_dir);

}  // namespace dmascope::engine
