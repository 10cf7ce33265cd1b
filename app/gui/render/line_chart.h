// Line charts for the timing sweeps, drawn with ImDrawList (Debian has no ImPlot): a frame, y ticks with grid lines
// and labels (linear or log10), x ticks at the sweep's points on a log axis (the points are powers of two), axis
// titles, a legend, a marker per point and a tooltip with every series' value at the hovered point. The tick and
// range arithmetic lives in chart_axis.h, where it is unit-tested.
#pragma once

#include <imgui.h>

#include <span>
#include <string>
#include <vector>

namespace dmascope::gui {

struct ChartSeries {
  std::string label;
  ImU32 color = IM_COL32(90, 160, 230, 255);
  std::vector<double> x, y;  // same length; a y that is not > 0 (not measured) breaks the line there
};

// A point where nothing could be measured (a sweep point that failed): a red mark on the x axis under the gap the
// series leave there, and `why` in the tooltip.
struct ChartFailedPoint {
  double x = 0;
  std::string why;
};

struct LineChartOptions {
  std::string x_title, y_title;
  bool log_y = false;
  float height = 220;
  std::string (*format_value)(double) = nullptr;  // the tooltip's numbers (e.g. format_ms); null: "%g"
  bool zero_is_a_value = false;  // y = 0 is drawn (an accuracy of 0); otherwise it means "not measured"
  std::vector<ChartFailedPoint> failed_points;
};

void draw_line_chart(const char* id, std::span<const ChartSeries> series, const LineChartOptions& options);

}  // namespace dmascope::gui
