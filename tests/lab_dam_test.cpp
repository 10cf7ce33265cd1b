// DAM's stages (core/lab/dam.h) against tools/make_dam_fixture.py, a pure-Python transcription of the paper's
// equations on a tiny model: averaged map, Box-Cox map, true mask, pattern scores and matches, extended mask.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "core/base/error.h"
#include "core/lab/dam.h"
#include "core/lab/lab_metrics.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

// The C++ maps are fp32 softmaxes, the fixture's fp64: a few fp32 ulps per probability. Box-Cox ≈ 2√Ā magnifies
// an absolute error e of Ā to about e/√Ā; the fixture keeps every entry 2e-3 away from τ, so masks agree exactly.
constexpr double kAveragedTolerance = 1e-6;
constexpr double kBoxCoxTolerance = 1e-4;

nlohmann::json load_fixture() {
  std::ifstream in(testing::fixtures_dir() / "dam" / "tiny.json");
  return nlohmann::json::parse(in);
}

std::vector<DamHeadMask> calibrate_from_fixture(const nlohmann::json& fixture, DamSettings& settings) {
  const auto& s = fixture.at("settings");
  settings.capture_length = s.at("capture_length");
  settings.lambda = s.at("lambda");
  settings.tau = s.at("tau");
  settings.mu = s.at("mu");
  settings.epsilon = s.at("epsilon");
  const std::int64_t layers = fixture.at("layers"), heads = fixture.at("heads"), d = fixture.at("head_dim");
  DamCalibration calibration(layers, heads, settings.capture_length);
  for (const auto& sequence : fixture.at("sequences")) {
    const std::int64_t n = sequence.at("length");
    const std::vector<float> values(static_cast<std::size_t>(n * d), 0.0f);
    for (std::int64_t layer = 0; layer < layers; ++layer)
      for (std::int64_t head = 0; head < heads; ++head) {
        const auto q = sequence.at("q")[layer][head].get<std::vector<float>>();
        const auto k = sequence.at("k")[layer][head].get<std::vector<float>>();
        const auto beta = sequence.at("beta")[layer][head].get<std::vector<float>>();
        LabHead lab_head;
        lab_head.length = n;
        lab_head.head_dim = d;
        lab_head.scale = s.at("scale").get<float>();
        lab_head.window = 1;
        lab_head.query = q;
        lab_head.key = k;
        lab_head.value = values;
        lab_head.beta = beta;
        calibration.add_map(layer, head, dense_attention_map(lab_head, true), n);
      }
    calibration.end_sequence(n);
  }
  EXPECT_EQ(calibration.sequences(), static_cast<std::int64_t>(fixture.at("sequences").size()));
  return calibration.finish(settings);
}

TEST(DamStages, MatchThePythonTranscriptionOfThePaper) {
  const nlohmann::json fixture = load_fixture();
  DamSettings settings;
  const auto masks = calibrate_from_fixture(fixture, settings);
  const std::int64_t heads = fixture.at("heads"), Lc = settings.capture_length;
  const std::int64_t extended_length = fixture.at("settings").at("extended_length");
  ASSERT_EQ(masks.size(), fixture.at("stages").size());
  for (const auto& expected : fixture.at("stages")) {
    const std::int64_t layer = expected.at("layer"), head = expected.at("head");
    SCOPED_TRACE("layer " + std::to_string(layer) + " head " + std::to_string(head));
    const DamHeadMask& mask = masks[static_cast<std::size_t>(layer * heads + head)];
    ASSERT_EQ(mask.capture_length, Lc);
    const auto averaged = expected.at("averaged").get<std::vector<double>>();
    const auto box_cox = expected.at("box_cox").get<std::vector<double>>();
    ASSERT_EQ(mask.averaged.size(), averaged.size());
    for (std::size_t e = 0; e < averaged.size(); ++e) {
      ASSERT_NEAR(mask.averaged[e], averaged[e], kAveragedTolerance) << "entry " << e;
      ASSERT_NEAR(mask.box_cox[e], box_cox[e], kBoxCoxTolerance) << "entry " << e;
    }
    EXPECT_EQ(mask.true_mask, expected.at("true_mask").get<std::vector<std::uint8_t>>());
    EXPECT_EQ(mask.diagonal_score, expected.at("diagonal_score").get<std::vector<double>>());
    EXPECT_EQ(mask.vertical_score, expected.at("vertical_score").get<std::vector<double>>());
    EXPECT_EQ(mask.matched_diagonals, expected.at("matched_diagonals").get<std::vector<std::int32_t>>());
    EXPECT_EQ(mask.matched_verticals, expected.at("matched_verticals").get<std::vector<std::int32_t>>());
    const auto extended = expected.at("extended_mask").get<std::vector<std::uint8_t>>();
    EXPECT_EQ(mask.extended_mask(extended_length), extended);
    for (std::int64_t i = 0; i < extended_length; ++i)
      for (std::int64_t j = 0; j <= i; ++j)
        ASSERT_EQ(mask.keeps(i, j), extended[static_cast<std::size_t>(i * extended_length + j)] != 0) << i << "," << j;
    // At a length below Lc the mask is the true mask's top-left crop.
    const auto crop = mask.extended_mask(10);
    for (std::int64_t i = 0; i < 10; ++i)
      for (std::int64_t j = 0; j < 10; ++j)
        EXPECT_EQ(crop[static_cast<std::size_t>(i * 10 + j)], mask.true_mask[static_cast<std::size_t>(i * Lc + j)]);
  }
}

TEST(DamStages, TheFixtureHoldsMatchedDiagonalsAndVerticals) {
  // A fixture without patterns would test stage 5 on nothing.
  const nlohmann::json fixture = load_fixture();
  std::size_t diagonals = 0, verticals = 0;
  for (const auto& stage : fixture.at("stages")) {
    diagonals += stage.at("matched_diagonals").size();
    verticals += stage.at("matched_verticals").size();
  }
  EXPECT_GT(diagonals, 4u);
  EXPECT_GT(verticals, 2u);
}

TEST(DamStages, TheShiftIsTheMinimumOverEveryLayerAndHead) {
  // §2.3: Ã = B − min B, and with zeros above the diagonal min B = (ε^λ − 1)/λ, so Ã ≈ 2√Ā for λ = 0.5.
  DamCalibration calibration(2, 1, 3);
  const std::vector<float> map = {1, 0, 0, 0.5f, 0.5f, 0, 0.2f, 0.3f, 0.5f};
  calibration.add_map(0, 0, map, 3);
  calibration.add_map(1, 0, map, 3);
  calibration.end_sequence(3);
  const auto masks = calibration.finish(DamSettings{.capture_length = 3});
  const double eps = 1e-10;
  for (std::size_t e = 0; e < map.size(); ++e) {
    const double expected = 2.0 * (std::sqrt(std::max<double>(map[e], eps)) - std::sqrt(eps));
    EXPECT_NEAR(masks[0].box_cox[e], expected, 1e-6);
  }
}

TEST(DamHeadLabels, NameTheDominantPattern) {
  DamHeadMask mask;
  mask.capture_length = 100;
  EXPECT_EQ(dam_head_label(mask), HeadLabel::Content);
  mask.matched_diagonals = {0, 1, 2};
  EXPECT_EQ(dam_head_label(mask), HeadLabel::Local);
  mask.matched_verticals = {0, 1, 2, 3};
  EXPECT_EQ(dam_head_label(mask), HeadLabel::Sink);
  mask.matched_verticals = {10, 11, 12, 13};
  EXPECT_EQ(dam_head_label(mask), HeadLabel::Vertical);
  mask.matched_verticals = {};
  mask.matched_diagonals = {20, 30, 40, 50};
  EXPECT_EQ(dam_head_label(mask), HeadLabel::Diagonal);
  EXPECT_EQ(head_label_name(HeadLabel::Diagonal), "diagonal");
}

TEST(DamCalibration, RefusesMisfitMapsAndAnEmptyCalibration) {
  DamCalibration calibration(1, 1, 4);
  EXPECT_THROW(calibration.finish({}), Error);
  EXPECT_THROW(calibration.add_map(0, 0, std::vector<float>(25, 0.0f), 5), Error);
  EXPECT_THROW(calibration.add_map(1, 0, std::vector<float>(16, 0.0f), 4), Error);
  EXPECT_THROW(calibration.end_sequence(5), Error);
  EXPECT_THROW((DamSettings{.mu = 1.5}.validate()), Error);
}

}  // namespace
}  // namespace dmascope
