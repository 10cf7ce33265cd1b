// Where every export of the app goes (PNG of the window, CSV of tile maps, timing tables and sweeps, safetensors of
// masks), by one rule:
//   - the folder: one the user can edit in the Source panel; by default ~/dmascope-exports (./dmascope-exports without
//     HOME), created on the first export; a leading ~ is the home folder;
//   - the name says what the file holds: dmascope-tiles-doge-toy-mix-layer1-tiles16x16-L4K-w256.csv;
//   - an earlier export is never replaced: a name that is taken gets -2, -3, … before the extension;
//   - atomic: the file is written whole under a temporary name in the folder, then published under its name in one
//     step that fails, rather than replaces, when the name is taken (renameat2 RENAME_NOREPLACE, else link + unlink).
// Window-free, so that it is unit-tested; export_action.cpp reports the outcome in the status bar.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "engine/export/rgba_image.h"
#include "engine/pipeline/pipeline_result.h"
#include "engine/timing/timing_results.h"
#include "engine/session/view_state.h"

namespace dmascope::engine {

std::string default_export_folder();  // "~/dmascope-exports", or "dmascope-exports" without HOME
// "~" and "~/x" → $HOME and $HOME/x; anything else as it is.
std::filesystem::path expand_home(std::string_view folder);

// A file name before the folder's free suffix is found: "dmascope-masks-doge-toy-mix-L4K-w256" + "safetensors".
struct ExportName {
  std::string stem, extension;
  // copy 1: "stem.ext"; copy n > 1: "stem-n.ext".
  std::string file_name(int copy = 1) const;
};

// Parts joined by '-'; characters other than letters, digits, '.', '_' and '+' become '_' (a model named "a/b c"
// gives "a_b_c"), empty parts are left out.
ExportName export_name(std::initializer_list<std::string_view> parts, std::string_view extension);

// The names of the app's exports (what, model, where in the model, L, w).
ExportName window_png_name(const PipelineResult* result, const ViewState& view);  // no result: "dmascope-window"
// One panel's PNG: "dmascope-heatmap-<model>-layer1-head2-mask-L4K-w64.png" for panel "heatmap".
ExportName panel_png_name(const PipelineResult* result, const ViewState& view, std::string_view panel);

// A part of the window in framebuffer pixels, top-left origin: a panel's PNG crops the window's image to it.
struct PixelRect {
  int x = 0, y = 0, width = 0, height = 0;
};
// The pixels of `rect` clipped to the image; Error when none of it lies inside.
RgbaImage crop_image(const RgbaImage& image, const PixelRect& rect);
ExportName masks_export_name(const PipelineResult& result);
ExportName tile_map_csv_name(const PipelineResult& result, std::int64_t layer);
ExportName kernel_tile_map_csv_name(const PipelineResult& result, const KernelTileMap& map);
ExportName layer_timing_csv_name(const PipelineResult& result, const LayerTiming& timing);
ExportName timing_sweep_csv_name(const PipelineResult& result, const TimingSweep& sweep);

// The copies tried before giving up (a folder with 1000 exports of one view is a mistake, not a wish).
inline constexpr int kMaxExportCopies = 1000;

// Writes one export into `folder` (expand_home'd, created if missing): `write(path)` writes the whole file at `path`, a temporary
// name in the folder, by any means (write_file_atomically, write_png, write_mask_export); then it is published under
// name.file_name(n) for the first n whose name is free. Returns the path written. Throws Error naming the path (or
// the folder) and the reason; nothing is left behind on failure.
std::filesystem::path write_export(const std::filesystem::path& folder, const ExportName& name,
                                   const std::function<void(const std::filesystem::path&)>& write);
std::filesystem::path write_export_text(const std::filesystem::path& folder, const ExportName& name,
                                        std::string_view bytes);

}  // namespace dmascope::engine
