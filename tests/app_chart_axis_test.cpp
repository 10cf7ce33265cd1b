// Axis ranges and ticks of the timing charts (app/gui/render/chart_axis.h).
#include <gtest/gtest.h>

#include <cmath>

#include "app/gui/engine_vocabulary.h"
#include "app/gui/render/chart_axis.h"

namespace dmascope::gui {
namespace {

TEST(AppChartAxis, LinearRangeStartsAtZeroAndEndsOnATick) {
  const AxisRange range = nice_linear_range(0.3, 7.2);
  EXPECT_EQ(range.low, 0.0);
  EXPECT_GE(range.high, 7.2);
  const auto ticks = axis_ticks(range, 6);
  ASSERT_GE(ticks.size(), 3u);
  EXPECT_EQ(ticks.front().value, 0.0);
  EXPECT_NEAR(ticks.back().value, range.high, 1e-9);
  EXPECT_LE(ticks.size(), 7u);
  // Steps are 1, 2 or 5 × 10ⁿ and evenly spaced.
  const double step = ticks[1].value - ticks[0].value;
  const double mantissa = step / std::pow(10.0, std::floor(std::log10(step)));
  EXPECT_TRUE(std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 || std::abs(mantissa - 5) < 1e-9) << step;
  for (std::size_t n = 1; n < ticks.size(); ++n) EXPECT_NEAR(ticks[n].value - ticks[n - 1].value, step, 1e-9);
}

TEST(AppChartAxis, LogRangeIsWholeDecadesWithATickOnEach) {
  const AxisRange range = nice_log_range(0.037, 412.0);
  EXPECT_DOUBLE_EQ(range.low, 0.01);
  EXPECT_DOUBLE_EQ(range.high, 1000.0);
  const auto ticks = axis_ticks(range, 6);
  ASSERT_EQ(ticks.size(), 6u);  // 0.01 … 1000
  EXPECT_EQ(ticks[0].label, "0.01");
  EXPECT_EQ(ticks[2].label, "1");
  EXPECT_EQ(ticks[5].label, "1000");
  EXPECT_NEAR(range.fraction(1.0), 0.4, 1e-12);
}

TEST(AppChartAxis, ShortLogRangeGetsTwoAndFiveTicks) {
  const AxisRange range = nice_log_range(1.5, 8.0);
  EXPECT_DOUBLE_EQ(range.low, 1.0);
  EXPECT_DOUBLE_EQ(range.high, 10.0);
  const auto ticks = axis_ticks(range, 6);
  ASSERT_EQ(ticks.size(), 4u);
  EXPECT_EQ(ticks[1].label, "2");
  EXPECT_EQ(ticks[2].label, "5");
}

TEST(AppChartAxis, DegenerateInputsGiveAUsableRange) {
  EXPECT_GT(nice_linear_range(0, 0).high, 0);
  EXPECT_GT(nice_log_range(0, 5).high, nice_log_range(0, 5).low);  // a zero time cannot sit on a log axis
  EXPECT_EQ(AxisRange{}.fraction(0.5), 0.5);
}

TEST(AppChartAxis, TickLabelsAreShort) {
  EXPECT_EQ(tick_label(0), "0");
  EXPECT_EQ(tick_label(0.5), "0.5");
  EXPECT_EQ(tick_label(10000), "10000");
  EXPECT_EQ(tick_label(1e6), "1e+06");
  EXPECT_EQ(tick_label(1e-4), "1e-04");
}

TEST(AppChartAxis, PointTicksAreLabelledWithTokenCounts) {
  const auto ticks = point_ticks({1024, 2048, 131072});
  ASSERT_EQ(ticks.size(), 3u);
  EXPECT_EQ(ticks[0].label, "1K");
  EXPECT_EQ(ticks[2].label, "128K");
}

}  // namespace
}  // namespace dmascope::gui
