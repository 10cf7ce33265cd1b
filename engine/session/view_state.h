// What the user looks at and how: the layer and head, the quantity, the colour mapping, zoom and pan. Saved in
// session files next to the pipeline settings, so that a session reproduces a view exactly.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/view/view_geometry.h"
#include "core/view/view_reduce.h"

namespace dmascope::engine {

enum class Colormap { Viridis, Magma, Cividis, Grey };
inline constexpr Colormap kColormaps[] = {Colormap::Viridis, Colormap::Magma, Colormap::Cividis, Colormap::Grey};
std::string_view colormap_name(Colormap colormap);  // "viridis" | "magma" | "cividis" | "grey"
Colormap colormap_from_name(std::string_view name);

enum class ColorScale { Linear, Log };
std::string_view color_scale_name(ColorScale scale);  // "linear" | "log"
ColorScale color_scale_from_name(std::string_view name);

// Kept mask (always there), the attention probabilities (captured only at small L) or the logits the softmax sees
// (q·k/√d + β on kept entries, computed from the q/k captures when the forward kept them).
enum class HeatmapQuantity { Mask, Probabilities, Logits };
std::string_view heatmap_quantity_name(HeatmapQuantity quantity);  // "mask" | "probs" | "logits"
HeatmapQuantity heatmap_quantity_from_name(std::string_view name);

struct ViewState {
  std::int64_t layer = 0;
  std::int64_t head = 0;  // query head; its mask is that of its bias head
  HeatmapQuantity quantity = HeatmapQuantity::Mask;
  Colormap colormap = Colormap::Viridis;
  ColorScale scale = ColorScale::Linear;
  // Max by default: zoomed out on a long sequence a pixel covers thousands of cells of which a sparse mask keeps a
  // few, so the mean fades to the bottom of the colormap while the max still shows where kept keys are.
  ReduceMode reduce = ReduceMode::Max;
  ZoomPan zoom_pan;          // in token units of the current result's length
  std::int64_t zoom_pan_length = 0;  // the L zoom_pan refers to; another L resets it to the whole matrix

  bool operator==(const ViewState& other) const;
};

}  // namespace dmascope::engine
