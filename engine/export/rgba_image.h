// A frame read back from the window (or its crop): what the PNG export writes.
#pragma once

#include <cstdint>
#include <vector>

namespace dmascope::engine {

struct RgbaImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // row-major, top row first, 4 bytes per pixel
};

}  // namespace dmascope::engine
