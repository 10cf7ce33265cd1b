#include "core/view/view_geometry.h"

#include <algorithm>
#include <cmath>

namespace dmascope {

double max_zoom(std::int64_t length, double view_pixels) {
  if (length < 1 || view_pixels <= 0) return 1.0;
  return std::max(1.0, kMaxPixelsPerToken * static_cast<double>(length) / view_pixels);
}

ZoomPan whole_matrix(std::int64_t length) {
  const double middle = static_cast<double>(length) / 2.0;
  return ZoomPan{1.0, middle, middle};
}

ZoomPan clamp_zoom_pan(ZoomPan view, std::int64_t length, double view_pixels) {
  const double L = static_cast<double>(std::max<std::int64_t>(length, 1));
  if (!std::isfinite(view.zoom)) view.zoom = 1.0;
  view.zoom = std::clamp(view.zoom, 1.0, max_zoom(length, view_pixels));
  const double half = L / view.zoom / 2.0;
  auto clamp_center = [&](double center) { return std::isfinite(center) ? std::clamp(center, half, L - half) : L / 2; };
  view.center_row = clamp_center(view.center_row);
  view.center_col = clamp_center(view.center_col);
  return view;
}

MatrixWindow visible_window(const ZoomPan& view, std::int64_t length) {
  const double half = static_cast<double>(length) / view.zoom / 2.0;
  return MatrixWindow{view.center_row - half, view.center_row + half, view.center_col - half, view.center_col + half};
}

ZoomPan zoom_about(ZoomPan view, std::int64_t length, double view_pixels, double factor, double anchor_x,
                   double anchor_y) {
  const MatrixWindow before = visible_window(view, length);
  const double anchor_col = before.col_begin + anchor_x * before.cols();
  const double anchor_row = before.row_begin + anchor_y * before.rows();
  ZoomPan zoomed = view;
  zoomed.zoom = std::clamp(view.zoom * factor, 1.0, max_zoom(length, view_pixels));
  const double span = static_cast<double>(length) / zoomed.zoom;
  // The anchor stays at the same fraction of the view: begin' = anchor − fraction · span'.
  zoomed.center_col = anchor_col - anchor_x * span + span / 2.0;
  zoomed.center_row = anchor_row - anchor_y * span + span / 2.0;
  return clamp_zoom_pan(zoomed, length, view_pixels);
}

ZoomPan pan_by_pixels(ZoomPan view, std::int64_t length, double view_pixels, double dx_pixels, double dy_pixels) {
  if (view_pixels <= 0) return view;
  const double tokens_per_pixel = static_cast<double>(length) / view.zoom / view_pixels;
  view.center_col -= dx_pixels * tokens_per_pixel;
  view.center_row -= dy_pixels * tokens_per_pixel;
  return clamp_zoom_pan(view, length, view_pixels);
}

CellRange cells_of_pixel(double begin, double end, std::int64_t pixels, std::int64_t pixel, std::int64_t cells) {
  const double per_pixel = (end - begin) / static_cast<double>(pixels);
  const double low = begin + static_cast<double>(pixel) * per_pixel;
  const double high = begin + static_cast<double>(pixel + 1) * per_pixel;
  // Centres c + 0.5 in [low, high) ⇔ c ∈ [ceil(low − 0.5), ceil(high − 0.5)).
  CellRange range{static_cast<std::int64_t>(std::ceil(low - 0.5)), static_cast<std::int64_t>(std::ceil(high - 0.5))};
  range.begin = std::clamp<std::int64_t>(range.begin, 0, cells);
  range.end = std::clamp<std::int64_t>(range.end, 0, cells);
  if (range.begin >= range.end) {
    const auto under_centre = static_cast<std::int64_t>(std::floor((low + high) / 2.0));
    range.begin = std::clamp<std::int64_t>(under_centre, 0, cells - 1);
    range.end = range.begin + 1;
  }
  return range;
}

std::vector<CellRange> cells_of_pixels(double begin, double end, std::int64_t pixels, std::int64_t cells) {
  std::vector<CellRange> ranges(static_cast<std::size_t>(std::max<std::int64_t>(pixels, 0)));
  for (std::int64_t p = 0; p < pixels; ++p) ranges[static_cast<std::size_t>(p)] = cells_of_pixel(begin, end, pixels, p, cells);
  return ranges;
}

std::optional<MatrixCell> cell_at_point(const MatrixWindow& window, std::int64_t length, double width_pixels,
                                        double height_pixels, double x, double y) {
  if (x < 0 || y < 0 || x >= width_pixels || y >= height_pixels) return std::nullopt;
  const double col = window.col_begin + x / width_pixels * window.cols();
  const double row = window.row_begin + y / height_pixels * window.rows();
  const auto key = static_cast<std::int64_t>(std::floor(col));
  const auto query = static_cast<std::int64_t>(std::floor(row));
  if (key < 0 || query < 0 || key >= length || query >= length) return std::nullopt;
  return MatrixCell{query, key};
}

std::int64_t tick_step(double cells_per_pixel, double min_spacing_pixels) {
  const double wanted = std::max(1.0, cells_per_pixel * min_spacing_pixels);
  for (std::int64_t power = 1;; power *= 10)
    for (std::int64_t mantissa : {1, 2, 5})
      if (static_cast<double>(mantissa * power) >= wanted) return mantissa * power;
}

std::vector<AxisTick> axis_ticks(double begin, double end, double pixels, std::int64_t cells, double min_spacing_pixels) {
  std::vector<AxisTick> ticks;
  if (pixels <= 0 || end <= begin || cells < 1) return ticks;
  const double pixels_per_cell = pixels / (end - begin);
  const std::int64_t step = tick_step(1.0 / pixels_per_cell, min_spacing_pixels);
  const auto first = static_cast<std::int64_t>(std::ceil((begin - 0.5) / static_cast<double>(step))) * step;
  for (std::int64_t index = std::max<std::int64_t>(first, 0); index < cells; index += step) {
    const double pixel = (static_cast<double>(index) + 0.5 - begin) * pixels_per_cell;
    if (pixel >= pixels) break;
    if (pixel >= 0) ticks.push_back({index, pixel});
  }
  return ticks;
}

bool token_labels_fit(double begin, double end, double pixels, double label_pixels) {
  return end > begin && pixels / (end - begin) >= label_pixels;
}

}  // namespace dmascope
