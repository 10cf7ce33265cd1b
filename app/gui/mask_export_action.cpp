// "Export masks" (Source panel button, Ctrl+E): the current result's masks as safetensors (core/formats/mask_export.h), with
// the settings that made them in the metadata, so that a file found later says what it holds; into the export folder
// (export_files.h).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/gui/panels/panels.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/session/session_file.h"
#include "core/formats/mask_export.h"

namespace dmascope::gui {

void export_masks_action(AppState& state) {
  const auto result = state.pipeline.result();
  if (!result) {
    state.ui_error = "export masks: there is no result yet";
    return;
  }
  const PipelineSettings& settings = result->settings;
  std::map<std::string, std::string> metadata = {
      {"window", std::to_string(result->forward.window)},
      {"mask_variant", std::string(mask_variant_name(settings.mask_variant))},
      {"model", result->model->dir.string()},
      {"source", std::string(source_kind_name(settings.source))},
      // The pipeline settings as a session file writes them (the view part is left out: it made no mask).
      {"settings", nlohmann::json::parse(session_to_json(Session{settings, ViewState{}, {}}))["settings"].dump()},
  };
  if (settings.source == SourceKind::Toy) {
    metadata["toy_sequence"] = toy_sequence_name(settings.toy);
    metadata["seed"] = std::to_string(settings.seed);
  }
  export_file_action(state, fmt::format("masks of {} layers × {} tokens", result->layers(), result->length()),
                     masks_export_name(*result), [&](const std::filesystem::path& path) {
                       write_mask_export(path, result->forward, result->ids, metadata);
                     });
}

}  // namespace dmascope::gui
