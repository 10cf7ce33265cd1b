// The geometry of a matrix view (queries down, keys across): which part of the L×L matrix a zoom and pan show, which
// cells a screen pixel covers, which cell is under the mouse, and where axis ticks and token labels go. Pure
// arithmetic on doubles and indices, shared by the level-of-detail reduction (core/view/view_reduce.h) and the app, so
// that what is drawn, what is reduced and what the tooltip reports agree to the pixel.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace dmascope {

// The visible part of the matrix in token units: rows [row_begin, row_end), columns [col_begin, col_end).
struct MatrixWindow {
  double row_begin = 0, row_end = 0, col_begin = 0, col_end = 0;
  double rows() const { return row_end - row_begin; }
  double cols() const { return col_end - col_begin; }
};

// Zoom ≥ 1 (1 = the whole matrix) and the visible centre in token units. A square view of a square matrix.
struct ZoomPan {
  double zoom = 1.0;
  double center_row = 0.0, center_col = 0.0;
};

// The largest useful zoom: one token over this many pixels of a view of `view_pixels`.
inline constexpr double kMaxPixelsPerToken = 64.0;
double max_zoom(std::int64_t length, double view_pixels);

ZoomPan whole_matrix(std::int64_t length);  // zoom 1, centred
// Clamps zoom to [1, max_zoom] and the centre so that the window never leaves [0, L]².
ZoomPan clamp_zoom_pan(ZoomPan view, std::int64_t length, double view_pixels);
MatrixWindow visible_window(const ZoomPan& view, std::int64_t length);
// Zooms by `factor` keeping the matrix point under (anchor_x, anchor_y) ∈ [0,1]² (fractions of the view) in place.
ZoomPan zoom_about(ZoomPan view, std::int64_t length, double view_pixels, double factor, double anchor_x,
                   double anchor_y);
// Pans by a number of screen pixels (drag to the right moves the content right: the centre moves left).
ZoomPan pan_by_pixels(ZoomPan view, std::int64_t length, double view_pixels, double dx_pixels, double dy_pixels);

// The cells that pixel `pixel` of `pixels` covers along one axis whose visible span is [begin, end) of `cells`:
// those whose centre (c + 0.5) lies in the pixel; when none does (zoomed in, a cell wider than a pixel), the one cell
// under the pixel's centre. Always inside [0, cells) and never empty for cells ≥ 1.
struct CellRange {
  std::int64_t begin = 0, end = 0;
  bool operator==(const CellRange&) const = default;
};
CellRange cells_of_pixel(double begin, double end, std::int64_t pixels, std::int64_t pixel, std::int64_t cells);
// cells_of_pixel of every pixel 0..pixels−1 along the axis.
std::vector<CellRange> cells_of_pixels(double begin, double end, std::int64_t pixels, std::int64_t cells);

// The matrix cell under a point given in pixels from the view's top-left corner (not necessarily a pixel centre);
// nullopt outside the view or the matrix.
struct MatrixCell {
  std::int64_t query = 0, key = 0;
};
std::optional<MatrixCell> cell_at_point(const MatrixWindow& window, std::int64_t length, double width_pixels,
                                        double height_pixels, double x, double y);

// Axis ticks at "nice" index steps (1, 2, 5 × 10^k tokens) at least `min_spacing_pixels` apart. `pixel` is the
// centre of the tick's cell, from the start of the axis.
struct AxisTick {
  std::int64_t index = 0;
  double pixel = 0.0;
};
std::int64_t tick_step(double cells_per_pixel, double min_spacing_pixels);
std::vector<AxisTick> axis_ticks(double begin, double end, double pixels, std::int64_t cells, double min_spacing_pixels);
// Token labels go on an axis once a cell is at least this tall (or wide) on screen: one label per visible cell.
bool token_labels_fit(double begin, double end, double pixels, double label_pixels);

}  // namespace dmascope
