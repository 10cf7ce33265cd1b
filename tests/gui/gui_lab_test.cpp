// Screenshot tests of the Mask lab window under Xvfb + Mesa: `dmascope --lab --lab-tab VIEW --screenshot OUT.png
// --layout-json LAYOUT` on the first-launch sequence (the bundled toy model on a trained-task sequence), checked
// against numbers the test derives itself and against the lab's own metrics that the layout reports.
#include <gtest/gtest.h>

#include <stb_image.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/base/error.h"
#include "engine/session/session_file.h"
#include "tests/run_command.h"

namespace dmascope::gui {
namespace {

namespace fs = std::filesystem;
using Rgb = std::array<int, 3>;

// The A/B picture's categorical colours (app/gui/panels/lab_ab_view.cpp) and the grey map's ends.
constexpr Rgb kGainedColor = {86, 180, 233};
constexpr Rgb kLostColor = {230, 159, 0};
constexpr Rgb kWhite = {255, 255, 255};
constexpr Rgb kBlack = {0, 0, 0};
// Lookup-table bytes are written unblended (as in gui_screenshot_test.cpp); 2 units leave room for dithering.
constexpr int kColorTolerance = 2;

struct Shot {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
  nlohmann::json layout;
  Rgb at(int x, int y) const {
    const auto* p = &rgb[(static_cast<std::size_t>(y) * width + x) * 3];
    return {p[0], p[1], p[2]};
  }
};

bool close_to(const Rgb& a, const Rgb& b) {
  for (int c = 0; c < 3; ++c)
    if (std::abs(a[c] - b[c]) > kColorTolerance) return false;
  return true;
}

Shot take_lab_screenshot(const std::string& tab) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() / "dmascope-gui-tests" / info->name();
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path png = dir / "lab.png", layout = dir / "lab.layout.json";
  const std::string command = std::string(DMASCOPE_XVFB_RUN) + " -a -s '-screen 0 1920x1080x24' '" +
                              DMASCOPE_GUI_PATH + "' --size 1920x1080 --lab --lab-tab '" + tab + "' --screenshot '" +
                              png.string() + "' --layout-json '" + layout.string() + "'";
  std::string output;
  const int status = dmascope::testing::run_command(command, output);
  if (status != 0) throw std::runtime_error("dmascope exited with " + std::to_string(status) + ": " + output);
  Shot shot;
  int channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(png.c_str(), &shot.width, &shot.height, &channels, 3),
                                                   stbi_image_free);
  if (!pixels) throw std::runtime_error("cannot read PNG " + png.string());
  shot.rgb.assign(pixels.get(), pixels.get() + static_cast<std::size_t>(shot.width) * shot.height * 3);
  std::ifstream(layout) >> shot.layout;
  return shot;
}

const nlohmann::json& find_row(const nlohmann::json& rows, int layer, int head, const std::string& strategy) {
  for (const auto& row : rows)
    if (row["layer"] == layer && row["head"] == head && row["strategy"] == strategy) return row;
  throw std::runtime_error("no lab row for " + strategy);
}

// Counts pixels of `color` inside the view's picture rect (x0 y0 x1 y1, framebuffer scale 1 in these runs).
int count_in_picture(const Shot& shot, const Rgb& color) {
  const auto& rect = shot.layout["lab"]["picture"];
  int count = 0;
  for (int y = static_cast<int>(rect[1].get<float>()) + 1; y < static_cast<int>(rect[3].get<float>()) - 1; ++y)
    for (int x = static_cast<int>(rect[0].get<float>()) + 1; x < static_cast<int>(rect[2].get<float>()) - 1; ++x)
      count += close_to(shot.at(x, y), color);
  return count;
}

TEST(GuiMaskLab, TheABViewsKeyCountsAgreeWithTheLabMetricsAndItDrawsGainedAndLostKeys) {
  const Shot shot = take_lab_screenshot("A/B");
  const nlohmann::json& lab = shot.layout["lab"];
  ASSERT_EQ(lab["error"], "");
  ASSERT_EQ(lab["tab"], "A/B");
  ASSERT_EQ(lab["runs"], 1);
  const int layer = lab["layer"], head = lab["head"];
  const std::int64_t length = lab["length"], window = lab["window"];
  // Default A/B: dma (A) against swa (B) on the one run. The picture's counts (diff_kept_sets) and the metrics pass
  // (head_metrics) build their kept sets separately; they must agree.
  const std::int64_t dma_kept = find_row(lab["rows"], layer, head, "dma")["kept_entries"];
  const std::int64_t swa_kept = find_row(lab["rows"], layer, head, "swa")["kept_entries"];
  const std::int64_t gained = lab["ab"]["gained"], lost = lab["ab"]["lost"], common = lab["ab"]["common"];
  EXPECT_EQ(lost + common, dma_kept);
  EXPECT_EQ(gained + common, swa_kept);
  // A sliding window of w keys keeps Σ_i min(i + 1, w) entries; so does dma (the same budget per row).
  std::int64_t expected = 0;
  for (std::int64_t i = 0; i < length; ++i) expected += std::min(i + 1, window);
  EXPECT_EQ(swa_kept, expected);
  EXPECT_EQ(dma_kept, expected);
  EXPECT_GT(gained, 0) << "dma and swa keep different keys on a trained-task sequence";
  EXPECT_EQ(gained, lost) << "equal budgets: every key gained is one lost";
  // The picture shows both colours.
  EXPECT_GT(count_in_picture(shot, kGainedColor), 500);
  EXPECT_GT(count_in_picture(shot, kLostColor), 500);
}

TEST(GuiMaskLab, TheDamStagesViewDrawsTheTrueMaskTheEngineCalibrated) {
  const Shot shot = take_lab_screenshot("DAM stages");
  const nlohmann::json& lab = shot.layout["lab"];
  ASSERT_EQ(lab["error"], "");
  ASSERT_EQ(lab["tab"], "DAM stages");
  ASSERT_TRUE(lab.contains("dam"));
  const double capture_length = lab["dam"]["capture_length"];
  const double true_cells = lab["dam"]["true_cells"];
  ASSERT_GT(true_cells, 0);
  // The true-mask picture (grey map: kept white, dropped black) holds kept cells in the share the engine counted:
  // every cell gets ≥ 2 screen pixels, so the white share of causal pixels is the true mask's density, up to the
  // diagonal's rasterisation.
  const int white = count_in_picture(shot, kWhite), black = count_in_picture(shot, kBlack);
  ASSERT_GT(white + black, 1000);
  const double density = true_cells / (capture_length * (capture_length + 1) / 2);
  EXPECT_NEAR(static_cast<double>(white) / (white + black), density, 0.02);
}

// On the first-launch trained task the Budget curves tab holds the answer accuracy of dma, swa and oracle at the
// curve's budgets: dma at the model's w is the model as trained, at w = L every strategy is dense attention, and the
// chart draws the lines (swa's colour is on screen).
TEST(GuiMaskLab, TheBudgetCurvesShowAnswerAccuracyOnTheTrainedTask) {
  const Shot shot = take_lab_screenshot("Budget curves");
  const nlohmann::json& lab = shot.layout["lab"];
  ASSERT_EQ(lab["error"], "");
  ASSERT_EQ(lab["tab"], "Budget curves");
  ASSERT_TRUE(lab.contains("accuracy")) << "the first launch is a trained task: the run should score its answers";
  const std::int64_t length = lab["length"];
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> correct;
  std::int64_t model_correct = -1, model_window = -1, answers = 0;
  for (const auto& point : lab["accuracy"]) {
    correct[{point["strategy"].get<std::string>(), point["window"].get<std::int64_t>()}] = point["correct"];
    model_correct = point["model_correct"], model_window = point["model_window"], answers = point["answers"];
  }
  ASSERT_GT(answers, 0);
  ASSERT_EQ(correct.size(), lab["accuracy"].size());
  ASSERT_TRUE(correct.count({"dma", model_window})) << "the model's w is one of the budgets";
  EXPECT_EQ(correct.at({"dma", model_window}), model_correct);
  EXPECT_LT(correct.at({"swa", model_window}), model_correct);
  EXPECT_EQ(correct.at({"swa", length}), correct.at({"dma", length}));
  EXPECT_EQ(correct.at({"oracle", length}), correct.at({"dma", length}));
  constexpr Rgb kSwaColor = {0, 158, 115};  // lab_budget_view.cpp's Okabe–Ito green
  int swa_pixels = 0;
  for (int y = shot.height / 2; y < shot.height; ++y)
    for (int x = shot.width / 4; x < shot.width; ++x) swa_pixels += close_to(shot.at(x, y), kSwaColor);
  EXPECT_GT(swa_pixels, 100) << "the accuracy chart's swa line";
}

TEST(GuiMaskLabSession, LabSettingsRoundTripThroughTheSessionFile) {
  engine::Session session;
  session.lab.strategies = "swa,oracle";
  session.lab.window = 32;
  session.lab.dense_with_bias = false;
  session.lab.dam_source = DamSource::Text;
  session.lab.dam_sequences = 17;
  session.lab.dam_capture_length = 64;
  session.lab.dam_text_file = "/data/text.txt";
  session.lab.budget_curves = false;
  session.lab.open = true;
  const engine::Session loaded = engine::session_from_json(engine::session_to_json(session), "test");
  EXPECT_EQ(loaded.lab, session.lab);
  // A file without the section (older sessions) opens with the defaults.
  const engine::Session old = engine::session_from_json(R"({"dmascope_session": 1})", "old");
  EXPECT_EQ(old.lab, engine::LabSessionSettings{});
}

TEST(GuiMaskLabSession, BadLabValuesAreRefusedNamingTheKey) {
  const auto error_of = [](const std::string& lab) {
    try {
      engine::session_from_json(R"({"dmascope_session": 1, "lab": )" + lab + "}", "s.json");
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(R"({"strategies": "dma,bogus"})").find("lab.strategies"), std::string::npos);
  EXPECT_NE(error_of(R"({"dam_source": "web"})").find("lab.dam_source"), std::string::npos);
  EXPECT_NE(error_of(R"({"dam_capture_length": 2})").find("lab.dam_capture_length"), std::string::npos);
  EXPECT_NE(error_of(R"({"open": 1})").find("lab.open"), std::string::npos);
  EXPECT_NE(error_of(R"({"window": -1})").find("lab.window"), std::string::npos);
}

}  // namespace
}  // namespace dmascope::gui
