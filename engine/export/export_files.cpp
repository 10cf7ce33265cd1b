#include "engine/export/export_files.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc ≥ 2.28)
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "engine/timing/sweep_points.h"
#include "core/formats/atomic_write.h"
#include "core/base/error.h"

namespace dmascope::engine {

namespace fs = std::filesystem;

namespace {

std::string length_part(std::int64_t length) { return fmt::format("L{}", token_count_label(length)); }
std::string window_part(std::int64_t window) { return fmt::format("w{}", window); }
std::string layer_part(std::int64_t layer) { return fmt::format("layer{}", layer); }

std::string backend_part(bool on_gpu, Precision dtype) {
  return on_gpu ? fmt::format("cuda-{}", precision_name(dtype)) : "cpu";
}

// A name no other writer picks (pid and a process-wide counter); the leading dot hides it while it exists.
fs::path private_path_in(const fs::path& folder, const ExportName& name) {
  static std::atomic<unsigned> counter{0};
  return folder / fmt::format(".{}.export-{}-{}", name.file_name(), ::getpid(), counter++);
}

enum class Publish { Done, NameTaken };

// Gives `from` the name `to` unless `to` exists; atomic where the file system allows (it always does on ext4, xfs,
// btrfs, tmpfs): the check and the rename are one step, so two exports at once never overwrite each other.
Publish publish_without_replacing(const fs::path& from, const fs::path& to) {
#ifdef RENAME_NOREPLACE
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return Publish::Done;
  if (errno == EEXIST) return Publish::NameTaken;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP && errno != EOPNOTSUPP)
    fail("cannot write {}: {}", to.string(), std::strerror(errno));
#endif
  // No RENAME_NOREPLACE here: a hard link fails, rather than replaces, when the name is taken.
  if (::link(from.c_str(), to.c_str()) == 0) {
    ::unlink(from.c_str());
    return Publish::Done;
  }
  if (errno == EEXIST) return Publish::NameTaken;
  if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP)
    fail("cannot write {}: {}", to.string(), std::strerror(errno));
  // Nor hard links (FAT, some network file systems): check, then rename; only a race with another writer in the
  // same instant could replace a file here.
  std::error_code error;
  if (fs::exists(to, error)) return Publish::NameTaken;
  if (::rename(from.c_str(), to.c_str()) != 0) fail("cannot write {}: {}", to.string(), std::strerror(errno));
  return Publish::Done;
}

}  // namespace

std::string default_export_folder() {
  const char* home = std::getenv("HOME");
  return home && *home ? "~/dmascope-exports" : "dmascope-exports";
}

fs::path expand_home(std::string_view folder) {
  const char* home = std::getenv("HOME");
  if (!home || !*home || folder.empty() || folder[0] != '~' || (folder.size() > 1 && folder[1] != '/'))
    return fs::path(folder);
  return folder.size() > 2 ? fs::path(home) / folder.substr(2) : fs::path(home);
}

std::string ExportName::file_name(int copy) const {
  const std::string numbered = copy > 1 ? fmt::format("{}-{}", stem, copy) : stem;
  return extension.empty() ? numbered : numbered + "." + extension;
}

ExportName export_name(std::initializer_list<std::string_view> parts, std::string_view extension) {
  ExportName name;
  for (std::string_view part : parts) {
    if (part.empty()) continue;
    if (!name.stem.empty()) name.stem += '-';
    for (char c : part) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                         c == '_' || c == '+' || c == '-';
      name.stem += plain ? c : '_';
    }
  }
  if (name.stem.empty()) name.stem = "dmascope";
  if (name.stem.front() == '.') name.stem.insert(0, "dmascope-");  // never a hidden file
  name.extension = std::string(extension);
  return name;
}

ExportName window_png_name(const PipelineResult* result, const ViewState& view) {
  if (!result) return export_name({"dmascope-window"}, "png");
  return export_name({"dmascope-window", result->model->name(), layer_part(view.layer), fmt::format("head{}", view.head),
                      heatmap_quantity_name(view.quantity), length_part(result->length()),
                      window_part(result->forward.window)},
                     "png");
}

ExportName panel_png_name(const PipelineResult* result, const ViewState& view, std::string_view panel) {
  const std::string what = fmt::format("dmascope-{}", panel);
  if (!result) return export_name({what}, "png");
  return export_name({what, result->model->name(), layer_part(view.layer), fmt::format("head{}", view.head),
                      heatmap_quantity_name(view.quantity), length_part(result->length()),
                      window_part(result->forward.window)},
                     "png");
}

RgbaImage crop_image(const RgbaImage& image, const PixelRect& rect) {
  const int x0 = std::max(rect.x, 0), y0 = std::max(rect.y, 0);
  const int x1 = std::min(rect.x + rect.width, image.width), y1 = std::min(rect.y + rect.height, image.height);
  if (x1 <= x0 || y1 <= y0)
    fail("PNG: the region {}x{} at ({}, {}) lies outside the {}x{} window", rect.width, rect.height, rect.x, rect.y,
         image.width, image.height);
  RgbaImage cropped;
  cropped.width = x1 - x0;
  cropped.height = y1 - y0;
  cropped.pixels.resize(static_cast<std::size_t>(cropped.width) * cropped.height * 4);
  for (int y = y0; y < y1; ++y)
    std::copy_n(image.pixels.begin() + (static_cast<std::size_t>(y) * image.width + x0) * 4,
                static_cast<std::size_t>(cropped.width) * 4,
                cropped.pixels.begin() + static_cast<std::size_t>(y - y0) * cropped.width * 4);
  return cropped;
}

ExportName masks_export_name(const PipelineResult& result) {
  return export_name({"dmascope-masks", result.model->name(), length_part(result.length()),
                      window_part(result.forward.window)},
                     "safetensors");
}

ExportName tile_map_csv_name(const PipelineResult& result, std::int64_t layer) {
  const TileShape shape = result.tile_map(layer, 0).shape;
  return export_name({"dmascope-tiles", result.model->name(), layer_part(layer),
                      fmt::format("tiles{}x{}", shape.rows, shape.cols), length_part(result.length()),
                      window_part(result.forward.window)},
                     "csv");
}

ExportName kernel_tile_map_csv_name(const PipelineResult& result, const KernelTileMap& map) {
  return export_name({"dmascope-kernel-tiles", result.model->name(), layer_part(map.layer),
                      fmt::format("tiles{}x{}", map.tile_rows, map.tile_cols), length_part(result.length()),
                      window_part(result.forward.window)},
                     "csv");
}

ExportName layer_timing_csv_name(const PipelineResult& result, const LayerTiming& timing) {
  return export_name({"dmascope-timing", result.model->name(), layer_part(timing.layer),
                      backend_part(timing.on_gpu, result.settings.timing_dtype), length_part(timing.length),
                      window_part(timing.window)},
                     "csv");
}

ExportName timing_sweep_csv_name(const PipelineResult& result, const TimingSweep& sweep) {
  const std::string backend = backend_part(result.settings.backend == Backend::Cuda, result.settings.timing_dtype);
  if (sweep.kind == SweepKind::Length)  // synthetic inputs at the result's w; L is what varies
    return export_name({"dmascope-sweep-L", result.model->name(), backend, window_part(result.forward.window)}, "csv");
  return export_name({"dmascope-sweep-w", result.model->name(), layer_part(sweep.layer), backend,
                      length_part(result.length())},
                     "csv");
}

fs::path write_export(const fs::path& folder_as_given, const ExportName& name,
                      const std::function<void(const fs::path&)>& write) {
  const fs::path folder = folder_as_given.empty() ? fs::path(".") : expand_home(folder_as_given.string());
  const fs::path first_choice = folder / name.file_name();
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) fail("cannot write {}: cannot create the folder {}: {}", first_choice.string(), folder.string(),
                  error.message());
  const fs::path private_path = private_path_in(folder, name);
  try {
    write(private_path);
  } catch (const std::exception& failure) {
    fs::remove(private_path, error);
    fail("cannot write {}: {}", first_choice.string(), failure.what());
  }
  for (int copy = 1; copy <= kMaxExportCopies; ++copy) {
    const fs::path target = folder / name.file_name(copy);
    try {
      if (publish_without_replacing(private_path, target) == Publish::Done) return target;
    } catch (...) {
      fs::remove(private_path, error);
      throw;
    }
  }
  fs::remove(private_path, error);
  fail("cannot write {}: {} and the next {} numbered names are taken; pick another export folder",
       first_choice.string(), name.file_name(), kMaxExportCopies - 1);
}

fs::path write_export_text(const fs::path& folder, const ExportName& name, std::string_view bytes) {
  return write_export(folder, name, [&](const fs::path& path) { write_file_atomically(path, bytes); });
}

}  // namespace dmascope::engine
