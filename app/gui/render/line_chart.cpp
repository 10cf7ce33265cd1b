#include "app/gui/render/line_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "app/gui/render/chart_axis.h"

namespace dmascope::gui {

namespace {

constexpr ImU32 kFrameColor = IM_COL32(140, 140, 150, 255);
constexpr ImU32 kGridColor = IM_COL32(90, 90, 100, 90);
constexpr ImU32 kTextColor = IM_COL32(210, 210, 215, 255);
constexpr ImU32 kFailedColor = IM_COL32(255, 115, 90, 255);

bool present(double value) { return std::isfinite(value) && value > 0; }
// A y value that is drawn: positive, or zero too where the chart says zero was measured (linear axes only).
bool present_y(double value, const LineChartOptions& options) {
  return present(value) || (options.zero_is_a_value && !options.log_y && value == 0);
}

}  // namespace

void draw_line_chart(const char* id, std::span<const ChartSeries> series, const LineChartOptions& options) {
  ImGui::PushID(id);
  // Ranges over every measured point.
  double x_low = std::numeric_limits<double>::infinity(), x_high = 0;
  double y_low = std::numeric_limits<double>::infinity(), y_high = 0;
  std::vector<double> x_points;
  for (const ChartFailedPoint& failed : options.failed_points)
    if (present(failed.x) && std::find(x_points.begin(), x_points.end(), failed.x) == x_points.end()) {
      x_points.push_back(failed.x);
      x_low = std::min(x_low, failed.x);
      x_high = std::max(x_high, failed.x);
    }
  for (const ChartSeries& s : series)
    for (std::size_t n = 0; n < s.x.size() && n < s.y.size(); ++n) {
      if (!present(s.x[n])) continue;
      if (std::find(x_points.begin(), x_points.end(), s.x[n]) == x_points.end()) x_points.push_back(s.x[n]);
      x_low = std::min(x_low, s.x[n]);
      x_high = std::max(x_high, s.x[n]);
      if (!present_y(s.y[n], options)) continue;
      y_low = std::min(y_low, s.y[n]);
      y_high = std::max(y_high, s.y[n]);
    }
  std::sort(x_points.begin(), x_points.end());
  if (x_points.empty() || !(y_high > 0)) {
    ImGui::TextDisabled(options.failed_points.empty() ? "(nothing measured yet)" : "(no point could be measured)");
    ImGui::PopID();
    return;
  }
  // The x axis is log-spaced (points are powers of two); a lone point sits in the middle.
  AxisRange x_range{x_low, x_high, true};
  if (x_high <= x_low) x_range = {x_low / 2, x_low * 2, true};
  const AxisRange y_range = options.log_y ? nice_log_range(y_low, y_high) : nice_linear_range(0, y_high);
  const std::vector<AxisTick> y_ticks = axis_ticks(y_range, 6);
  const std::vector<AxisTick> x_ticks = point_ticks(x_points);

  const float line = ImGui::GetTextLineHeight();
  float y_label_width = 0;
  for (const AxisTick& tick : y_ticks) y_label_width = std::max(y_label_width, ImGui::CalcTextSize(tick.label.c_str()).x);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float width = std::max(120.0f, ImGui::GetContentRegionAvail().x);
  const float height = std::max(6 * line, options.height);
  ImDrawList* draw = ImGui::GetWindowDrawList();

  // Legend along the top: a swatch and a label per series.
  float legend_x = origin.x + y_label_width + line * 1.5f;
  for (const ChartSeries& s : series) {
    const ImVec2 at(legend_x, origin.y + line * 0.3f);
    draw->AddLine(ImVec2(at.x, at.y + line * 0.35f), ImVec2(at.x + line * 1.2f, at.y + line * 0.35f), s.color, 2.5f);
    draw->AddText(ImVec2(at.x + line * 1.5f, origin.y), kTextColor, s.label.c_str());
    legend_x += line * 2.5f + ImGui::CalcTextSize(s.label.c_str()).x;
  }

  // The plot area: left of it the y labels and the y title (as text above the labels), below it the x labels and title.
  const ImVec2 plot_min(origin.x + y_label_width + line * 1.5f, origin.y + line * 2.2f);
  const ImVec2 plot_max(origin.x + width - line, origin.y + height - line * 2.4f);
  draw->AddText(ImVec2(origin.x, origin.y + line * 1.1f), kTextColor, options.y_title.c_str());
  auto to_screen = [&](double x, double y) {
    const double fx = x_range.fraction(x), fy = y_range.fraction(std::clamp(y, y_range.low, y_range.high));
    return ImVec2(plot_min.x + static_cast<float>(fx) * (plot_max.x - plot_min.x),
                  plot_max.y - static_cast<float>(fy) * (plot_max.y - plot_min.y));
  };
  for (const AxisTick& tick : y_ticks) {
    const float y = to_screen(x_low, tick.value).y;
    draw->AddLine(ImVec2(plot_min.x, y), ImVec2(plot_max.x, y), kGridColor);
    draw->AddLine(ImVec2(plot_min.x - 4, y), ImVec2(plot_min.x, y), kFrameColor);
    const float label_width = ImGui::CalcTextSize(tick.label.c_str()).x;
    draw->AddText(ImVec2(plot_min.x - 6 - label_width, y - line / 2), kTextColor, tick.label.c_str());
  }
  float last_label_end = -1e9f;
  for (const AxisTick& tick : x_ticks) {
    const float x = to_screen(tick.value, y_range.low).x;
    draw->AddLine(ImVec2(x, plot_min.y), ImVec2(x, plot_max.y), kGridColor);
    draw->AddLine(ImVec2(x, plot_max.y), ImVec2(x, plot_max.y + 4), kFrameColor);
    const float label_width = ImGui::CalcTextSize(tick.label.c_str()).x;
    if (x - label_width / 2 > last_label_end + 4) {  // skip labels that would overlap the previous one
      draw->AddText(ImVec2(x - label_width / 2, plot_max.y + 5), kTextColor, tick.label.c_str());
      last_label_end = x + label_width / 2;
    }
  }
  const float x_title_width = ImGui::CalcTextSize(options.x_title.c_str()).x;
  draw->AddText(ImVec2((plot_min.x + plot_max.x - x_title_width) / 2, plot_max.y + line * 1.25f), kTextColor,
                options.x_title.c_str());
  draw->AddRect(plot_min, plot_max, kFrameColor);

  // The series: a polyline through consecutive measured points, a marker on each. Drawn last to first, so that the
  // legend's first series is on top where lines overlap.
  draw->PushClipRect(ImVec2(plot_min.x - 4, plot_min.y - 4), ImVec2(plot_max.x + 4, plot_max.y + 4), true);
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    const ChartSeries& s = *it;
    std::vector<ImVec2> run;
    auto flush = [&] {
      if (run.size() >= 2) draw->AddPolyline(run.data(), static_cast<int>(run.size()), s.color, ImDrawFlags_None, 2.0f);
      run.clear();
    };
    for (std::size_t n = 0; n < s.x.size() && n < s.y.size(); ++n) {
      if (!present(s.x[n]) || !present_y(s.y[n], options)) {
        flush();
        continue;
      }
      const ImVec2 at = to_screen(s.x[n], s.y[n]);
      run.push_back(at);
      draw->AddCircleFilled(at, 3.0f, s.color);
    }
    flush();
  }
  draw->PopClipRect();
  // Failed points: the series break there; an × on the x axis says the gap is a failure, not a missing run.
  for (const ChartFailedPoint& failed : options.failed_points) {
    if (!present(failed.x)) continue;
    const float x = to_screen(failed.x, y_range.low).x, r = line * 0.3f, y = plot_max.y - r - 3;
    draw->AddLine(ImVec2(x - r, y - r), ImVec2(x + r, y + r), kFailedColor, 2.0f);
    draw->AddLine(ImVec2(x - r, y + r), ImVec2(x + r, y - r), kFailedColor, 2.0f);
  }

  // Hover: the nearest point's values of every series.
  ImGui::SetCursorScreenPos(plot_min);
  ImGui::InvisibleButton("plot", ImVec2(std::max(1.0f, plot_max.x - plot_min.x), std::max(1.0f, plot_max.y - plot_min.y)));
  if (ImGui::IsItemHovered()) {
    const float mouse_x = ImGui::GetIO().MousePos.x;
    double nearest = x_points.front();
    for (double x : x_points)
      if (std::abs(to_screen(x, y_range.low).x - mouse_x) < std::abs(to_screen(nearest, y_range.low).x - mouse_x))
        nearest = x;
    const float x = to_screen(nearest, y_range.low).x;
    draw->AddLine(ImVec2(x, plot_min.y), ImVec2(x, plot_max.y), IM_COL32(255, 255, 255, 120));
    std::string text = fmt::format("{} = {}", options.x_title, point_ticks({nearest}).front().label);
    for (const ChartFailedPoint& failed : options.failed_points)
      if (failed.x == nearest) text += fmt::format("\nfailed: {}", failed.why);
    for (const ChartSeries& s : series)
      for (std::size_t n = 0; n < s.x.size() && n < s.y.size(); ++n)
        if (s.x[n] == nearest)
          text += fmt::format("\n{}: {}", s.label,
                              !present_y(s.y[n], options) ? std::string("not measured")
                              : options.format_value ? options.format_value(s.y[n])
                                                     : fmt::format("{:g}", s.y[n]));
    ImGui::SetTooltip("%s", text.c_str());
  }
  ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + height));
  ImGui::Dummy(ImVec2(width, 1));
  ImGui::PopID();
}

}  // namespace dmascope::gui
