// PNG files of rendered images (stb_image_write from Debian's libstb), written atomically.
#pragma once

#include <filesystem>
#include <string>

#include "app/gui/platform/gl_window.h"

namespace dmascope::gui {

std::string encode_png(const RgbaImage& image);
void write_png(const std::filesystem::path& path, const RgbaImage& image);  // throws Error with the path

}  // namespace dmascope::gui
