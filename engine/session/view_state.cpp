#include "engine/session/view_state.h"

#include "core/base/error.h"

namespace dmascope::engine {

std::string_view colormap_name(Colormap colormap) {
  switch (colormap) {
    case Colormap::Viridis: return "viridis";
    case Colormap::Magma: return "magma";
    case Colormap::Cividis: return "cividis";
    case Colormap::Grey: return "grey";
  }
  return "?";
}

Colormap colormap_from_name(std::string_view name) {
  for (Colormap colormap : kColormaps)
    if (colormap_name(colormap) == name) return colormap;
  fail("unknown colormap '{}' (expected viridis, magma, cividis or grey)", name);
}

std::string_view color_scale_name(ColorScale scale) { return scale == ColorScale::Linear ? "linear" : "log"; }

ColorScale color_scale_from_name(std::string_view name) {
  if (name == "linear") return ColorScale::Linear;
  if (name == "log") return ColorScale::Log;
  fail("unknown colour scale '{}' (expected linear or log)", name);
}

std::string_view heatmap_quantity_name(HeatmapQuantity quantity) {
  switch (quantity) {
    case HeatmapQuantity::Mask: return "mask";
    case HeatmapQuantity::Probabilities: return "probs";
    case HeatmapQuantity::Logits: return "logits";
  }
  return "?";
}

HeatmapQuantity heatmap_quantity_from_name(std::string_view name) {
  if (name == "mask") return HeatmapQuantity::Mask;
  if (name == "probs") return HeatmapQuantity::Probabilities;
  if (name == "logits") return HeatmapQuantity::Logits;
  fail("unknown heatmap quantity '{}' (expected mask, probs or logits)", name);
}

bool ViewState::operator==(const ViewState& o) const {
  return layer == o.layer && head == o.head && quantity == o.quantity && colormap == o.colormap && scale == o.scale &&
         reduce == o.reduce && zoom_pan.zoom == o.zoom_pan.zoom && zoom_pan.center_row == o.zoom_pan.center_row &&
         zoom_pan.center_col == o.zoom_pan.center_col && zoom_pan_length == o.zoom_pan_length;
}

}  // namespace dmascope::engine
