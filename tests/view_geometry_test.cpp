// View geometry: which cells a pixel covers, hover lookup, zoom/pan clamping and axis label spacing.
#include <gtest/gtest.h>

#include "core/view/view_geometry.h"

namespace dmascope {
namespace {

TEST(ViewGeometry, PixelsPartitionTheVisibleCellsWhenZoomedOut) {
  for (auto [begin, end, pixels, cells] : {std::tuple{0.0, 100.0, 7, 100}, {0.0, 32768.0, 512, 32768},
                                           {10.25, 90.75, 13, 100}, {0.0, 5.0, 5, 5}}) {
    std::int64_t next = -1;
    for (std::int64_t p = 0; p < pixels; ++p) {
      const CellRange range = cells_of_pixel(begin, end, pixels, p, cells);
      ASSERT_LT(range.begin, range.end);
      if (next >= 0) {
        EXPECT_EQ(range.begin, next) << "pixel " << p << " leaves a gap or overlaps";
      }
      next = range.end;
    }
  }
}

TEST(ViewGeometry, ZoomedInEachPixelCoversTheOneCellUnderItsCentreAndHoverAgrees) {
  const std::int64_t L = 32;
  const MatrixWindow window{4.5, 12.5, 4.5, 12.5};  // 8 cells over 100 px: 12.5 px per cell
  for (std::int64_t p = 0; p < 100; ++p) {
    const CellRange range = cells_of_pixel(window.col_begin, window.col_end, 100, p, L);
    ASSERT_EQ(range.end - range.begin, 1) << p;
    const auto cell = cell_at_point(window, L, 100, 100, static_cast<double>(p) + 0.5, 50.0);
    ASSERT_TRUE(cell.has_value());
    EXPECT_EQ(cell->key, range.begin) << "pixel " << p;
  }
  EXPECT_EQ(cell_at_point(window, L, 100, 100, 0.1, 0.1)->query, 4);
  EXPECT_EQ(cell_at_point(window, L, 100, 100, 99.9, 99.9)->key, 12);
}

TEST(ViewGeometry, HoverOutsideTheViewOrTheMatrixFindsNothing) {
  const MatrixWindow window{0, 10, 0, 10};
  EXPECT_FALSE(cell_at_point(window, 10, 100, 100, -1, 5).has_value());
  EXPECT_FALSE(cell_at_point(window, 10, 100, 100, 5, 100).has_value());
  EXPECT_EQ(cell_at_point(window, 10, 100, 100, 55, 25)->query, 2);
  EXPECT_EQ(cell_at_point(window, 10, 100, 100, 55, 25)->key, 5);
}

TEST(ViewGeometry, ZoomAndPanAreClampedToTheMatrix) {
  const std::int64_t L = 1000;
  ZoomPan view = clamp_zoom_pan({0.5, -50, 5000}, L, 500);
  EXPECT_EQ(view.zoom, 1.0);
  MatrixWindow window = visible_window(view, L);
  EXPECT_DOUBLE_EQ(window.row_begin, 0);
  EXPECT_DOUBLE_EQ(window.col_end, 1000);
  view = clamp_zoom_pan({1e9, 0, 1e9}, L, 500);
  EXPECT_DOUBLE_EQ(view.zoom, max_zoom(L, 500));
  window = visible_window(view, L);
  EXPECT_GE(window.row_begin, 0);
  EXPECT_LE(window.col_end, 1000 + 1e-9);
  EXPECT_NEAR(500 / window.cols(), kMaxPixelsPerToken, 1e-9);
}

TEST(ViewGeometry, ZoomKeepsTheMatrixPointUnderTheMouseInPlace) {
  const std::int64_t L = 1000;
  const ZoomPan start = whole_matrix(L);
  const ZoomPan zoomed = zoom_about(start, L, 500, 4.0, 0.25, 0.5);
  const MatrixWindow before = visible_window(start, L), after = visible_window(zoomed, L);
  EXPECT_NEAR(before.col_begin + 0.25 * before.cols(), after.col_begin + 0.25 * after.cols(), 1e-9);
  EXPECT_NEAR(before.row_begin + 0.5 * before.rows(), after.row_begin + 0.5 * after.rows(), 1e-9);
  EXPECT_NEAR(after.cols(), 250, 1e-9);
}

TEST(ViewGeometry, DraggingMovesTheContentWithTheMouse) {
  const std::int64_t L = 1000;
  const ZoomPan view = zoom_about(whole_matrix(L), L, 500, 4.0, 0.5, 0.5);
  const ZoomPan panned = pan_by_pixels(view, L, 500, 100, -50);  // 0.5 tokens per pixel
  EXPECT_NEAR(panned.center_col, view.center_col - 50, 1e-9);
  EXPECT_NEAR(panned.center_row, view.center_row + 25, 1e-9);
}

TEST(ViewGeometry, TickStepsAreOneTwoFiveTimesAPowerOfTenAndAtLeastTheMinimumSpacingApart) {
  EXPECT_EQ(tick_step(0.01, 50), 1);
  EXPECT_EQ(tick_step(1.0, 50), 50);
  EXPECT_EQ(tick_step(1.0, 60), 100);
  EXPECT_EQ(tick_step(0.1, 15), 2);
  EXPECT_EQ(tick_step(64.0, 80), 10000);
  const auto ticks = axis_ticks(0, 32768, 512, 32768, 60);
  ASSERT_GE(ticks.size(), 2u);
  EXPECT_EQ(ticks[0].index, 0);
  for (std::size_t t = 1; t < ticks.size(); ++t) {
    EXPECT_GE(ticks[t].pixel - ticks[t - 1].pixel, 60 - 1e-9);
    EXPECT_EQ(ticks[t].index - ticks[t - 1].index, 5000);
  }
  for (const auto& tick : ticks) EXPECT_LT(tick.pixel, 512);
}

TEST(ViewGeometry, TicksOfAPannedViewStartAtTheFirstVisibleMultipleAndSitOnCellCentres) {
  const auto ticks = axis_ticks(13.2, 23.2, 100, 100, 15);  // 10 px per cell, step 2
  ASSERT_FALSE(ticks.empty());
  EXPECT_EQ(ticks[0].index, 14);
  EXPECT_NEAR(ticks[0].pixel, (14 + 0.5 - 13.2) * 10, 1e-9);
  EXPECT_EQ(ticks.back().index, 22);
}

TEST(ViewGeometry, TokenLabelsAppearOnceACellIsTallerThanALabel) {
  EXPECT_FALSE(token_labels_fit(0, 128, 512, 14));  // 4 px per token
  EXPECT_TRUE(token_labels_fit(0, 32, 512, 14));    // 16 px per token
  EXPECT_TRUE(token_labels_fit(100, 114, 196, 14));
}

}  // namespace
}  // namespace dmascope
