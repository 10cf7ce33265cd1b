// libFuzzer target: tour files never crash the parser; bad input only ever raises dmascope::Error. The tour is parsed
// as if it sat in an empty folder of its own, so any session or text file it names that is accepted must be inside
// that folder: since the folder is empty, an accepted tour names no file at all.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/base/error.h"
#include "engine/session/tour_file.h"

namespace {

std::filesystem::path empty_tour_folder() {
  const auto folder = std::filesystem::temp_directory_path() / ("dmascope-fuzz-tour-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  return folder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path folder = empty_tour_folder();
  try {
    const auto tour =
        dmascope::engine::tour_from_json(std::string_view(reinterpret_cast<const char*>(data), size), folder / "t.json");
    if (tour.steps.empty()) std::abort();
  } catch (const dmascope::Error&) {
  }
  return 0;
}
