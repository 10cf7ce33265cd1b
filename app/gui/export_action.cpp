// The one way the UI exports a file (panels.h: export_file_action): export_files.h's rule, and the outcome in the
// status bar with the absolute path, so that the user can find the file.
#include <fmt/format.h>

#include "app/gui/panels/panels.h"

namespace dmascope::gui {

std::optional<std::filesystem::path> export_file_action(AppState& state, std::string_view what,
                                                        const ExportName& name,
                                                        const std::function<void(const std::filesystem::path&)>& write) {
  try {
    const std::filesystem::path written = write_export(state.export_folder, name, write);
    std::error_code error;
    const std::filesystem::path shown = std::filesystem::absolute(written, error);
    state.ui_message = fmt::format("{}: wrote {}", what, (error ? written : shown).string());
    state.ui_error.clear();
    return written;
  } catch (const std::exception& error) {
    state.ui_error = fmt::format("{}: {}", what, error.what());
    return std::nullopt;
  }
}

}  // namespace dmascope::gui
