#include "app/gui/render/colormaps.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dmascope::gui {

namespace {

// Each map is given by 10 evenly spaced sRGB anchors (the maps' published 10-step samples) and linearly interpolated
// to 256 entries: within a few units of the full tables, and perceptually ordered like them.
using Anchors = std::array<std::uint32_t, 10>;
constexpr Anchors kViridis = {0x440154, 0x482878, 0x3E4A89, 0x31688E, 0x26828E,
                              0x1F9E89, 0x35B779, 0x6DCD59, 0xB4DE2C, 0xFDE725};
constexpr Anchors kMagma = {0x000004, 0x180F3E, 0x451077, 0x721F81, 0x9F2F7F,
                            0xCD4071, 0xF1605D, 0xFD9567, 0xFEC98D, 0xFCFDBF};
constexpr Anchors kCividis = {0x00204D, 0x00336F, 0x39486B, 0x575C6D, 0x707173,
                              0x8A8779, 0xA69D75, 0xC4B56C, 0xE4CF5B, 0xFFEA46};

ColormapTable interpolate(const Anchors& anchors) {
  ColormapTable table{};
  for (int n = 0; n < 256; ++n) {
    const double position = n / 255.0 * (anchors.size() - 1);
    const auto low = std::min<std::size_t>(static_cast<std::size_t>(position), anchors.size() - 2);
    const double t = position - static_cast<double>(low);
    for (int channel = 0; channel < 3; ++channel) {
      const int shift = 16 - 8 * channel;
      const double a = (anchors[low] >> shift) & 0xFF, b = (anchors[low + 1] >> shift) & 0xFF;
      table[n][channel] = static_cast<std::uint8_t>(std::lround(a + (b - a) * t));
    }
  }
  return table;
}

ColormapTable grey_ramp() {
  ColormapTable table{};
  for (int n = 0; n < 256; ++n) table[n] = {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n),
                                            static_cast<std::uint8_t>(n)};
  return table;
}

}  // namespace

const ColormapTable& colormap_table(Colormap colormap) {
  static const ColormapTable viridis = interpolate(kViridis), magma = interpolate(kMagma),
                             cividis = interpolate(kCividis), grey = grey_ramp();
  switch (colormap) {
    case Colormap::Viridis: return viridis;
    case Colormap::Magma: return magma;
    case Colormap::Cividis: return cividis;
    case Colormap::Grey: return grey;
  }
  return viridis;
}

int colormap_index(float normalised) {
  return static_cast<int>(std::clamp(normalised, 0.0f, 1.0f) * 255.0f + 0.5f);
}

const ColormapTable& tile_status_table() {
  static const ColormapTable table = [] {
    ColormapTable t{};
    t.fill(kAboveDiagonalColor);
    t[0] = kTileSkippedColor;
    t[1] = kTilePartialColor;
    t[2] = kTileFullColor;
    return t;
  }();
  return table;
}

}  // namespace dmascope::gui
