// Tour files (strict parsing, errors that name the file and the step, relative paths), the bundled tour and recall
// table, and presenter-mode screenshots under Xvfb: a tour step renders a picture with its caption bar, the About
// window renders the recall table, and the first launch opens the trained toy model.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <stb_image.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <sys/wait.h>

#include "engine/session/bundled_assets.h"
#include "engine/session/recall_table.h"
#include "engine/session/session_file.h"
#include "engine/session/tour_file.h"
#include "core/base/error.h"
#include "tests/run_command.h"

namespace dmascope::engine {
namespace {

namespace fs = std::filesystem;

fs::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() / "dmascope-gui-tests" / (std::string("tour-") + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The error a parse raises, or "" when it parses.
std::string tour_error(const std::string& json_text, const fs::path& file = "/tours/t.json") {
  try {
    tour_from_json(json_text, file);
  } catch (const Error& error) {
    return error.what();
  }
  return {};
}

constexpr const char* kTwoSteps = R"({
  "dmascope_tour": 1, "title": "T",
  "base_session": {"settings": {"model_dir": "../models/m", "source": "toy", "length": 64, "tile_size": 8},
                   "view": {"colormap": "magma"}},
  "steps": [
    {"title": "One", "caption": "The first step. It has two sentences.", "session": {}},
    {"title": "Two", "caption": "β of 1.5 stays one sentence", "session": {"view": {"layer": 1, "head": 3}}}
  ]})";

TEST(GuiTourFile, InlineStepsMergeOverTheBaseSessionAndResolvePathsAgainstTheTourFile) {
  const Tour tour = tour_from_json(kTwoSteps, "/data/tours/t.json");
  EXPECT_EQ(tour.title, "T");
  ASSERT_EQ(tour.steps.size(), 2u);
  EXPECT_EQ(tour.steps[0].title, "One");
  EXPECT_EQ(tour.steps[0].session.settings.model_dir, "/data/models/m");
  EXPECT_EQ(tour.steps[0].session.settings.length, 64);
  EXPECT_EQ(tour.steps[0].session.view.colormap, Colormap::Magma);
  EXPECT_EQ(tour.steps[0].session.view.layer, 0);
  EXPECT_EQ(tour.steps[1].session.settings.tile_size, 8);  // from the base
  EXPECT_EQ(tour.steps[1].session.view.layer, 1);
  EXPECT_EQ(tour.steps[1].session.view.head, 3);
  EXPECT_EQ(tour.steps[1].session.view.colormap, Colormap::Magma);
}

TEST(GuiTourFile, TextFileAndSessionPathsAreReadRelativeToTheTour) {
  const fs::path dir = scratch_dir();
  fs::create_directories(dir / "sessions");
  write_text(dir / "sample.txt", "<mqar> k1 v2\n");
  Session saved;
  saved.settings.model_dir = "model-next-to-the-session";
  saved.settings.length = 48;
  saved.view.head = 2;
  save_session(dir / "sessions/s.json", saved);
  write_text(dir / "t.json", R"({"dmascope_tour": 1, "title": "T", "steps": [
      {"title": "Text", "caption": "Read from a file.", "session": {"settings": {"source": "text", "text_file": "sample.txt"}}},
      {"title": "File", "caption": "A session file.", "session": "sessions/s.json"}]})");
  const Tour tour = load_tour(dir / "t.json");
  EXPECT_EQ(tour.steps[0].session.settings.source, SourceKind::Text);
  EXPECT_EQ(tour.steps[0].session.settings.text, "<mqar> k1 v2");  // the final newline dropped, as $(cat) does
  EXPECT_EQ(tour.steps[1].session.settings.length, 48);
  EXPECT_EQ(tour.steps[1].session.view.head, 2);
  EXPECT_EQ(fs::path(tour.steps[1].session.settings.model_dir), (dir / "sessions/model-next-to-the-session"));
}

TEST(GuiTourFile, ErrorsNameTheFileTheStepAndWhatIsWrong) {
  const std::string unknown = tour_error(R"({"dmascope_tour": 1, "title": "T", "steps": [
      {"title": "A", "caption": "Fine.", "session": {}},
      {"title": "B", "caption": "Fine.", "sesion": {}}]})");
  EXPECT_NE(unknown.find("/tours/t.json"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("step 2"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("sesion"), std::string::npos) << unknown;

  const std::string view_key = tour_error(R"({"dmascope_tour": 1, "title": "T", "steps": [
      {"title": "A", "caption": "Fine.", "session": {"view": {"layr": 1}}}]})");
  EXPECT_NE(view_key.find("step 1 (\"A\")"), std::string::npos) << view_key;
  EXPECT_NE(view_key.find("layr"), std::string::npos) << view_key;

  const std::string bad_value = tour_error(R"({"dmascope_tour": 1, "title": "T", "steps": [
      {"title": "A", "caption": "Fine.", "session": {"view": {"colormap": "rainbow"}}}]})");
  EXPECT_NE(bad_value.find("step 1"), std::string::npos) << bad_value;
  EXPECT_NE(bad_value.find("view.colormap"), std::string::npos) << bad_value;

  const std::string long_caption = tour_error(R"({"dmascope_tour": 1, "title": "T", "steps": [
      {"title": "A", "caption": "One. Two. Three. Four.", "session": {}}]})");
  EXPECT_NE(long_caption.find("1 to 3 sentences, it has 4"), std::string::npos) << long_caption;

  const std::string missing_file = tour_error(R"({"dmascope_tour": 1, "title": "T", "steps": [
      {"title": "A", "caption": "Fine.", "session": "nowhere.json"}]})");
  EXPECT_NE(missing_file.find("step 1"), std::string::npos) << missing_file;
  EXPECT_NE(missing_file.find("nowhere.json"), std::string::npos) << missing_file;

  EXPECT_NE(tour_error(R"({"dmascope_tour": 1, "title": "T", "steps": []})").find("non-empty"), std::string::npos);
  EXPECT_NE(tour_error(R"({"title": "T", "steps": []})").find("dmascope_tour"), std::string::npos);
  EXPECT_NE(tour_error(R"({"dmascope_tour": 2, "title": "T", "steps": []})").find("version"), std::string::npos);
  EXPECT_NE(tour_error("{not json").find("not a JSON tour"), std::string::npos);
  EXPECT_NE(tour_error(R"({"dmascope_tour": 1, "title": "T", "steps": [{"caption": "x.", "session": {}}]})")
                .find("\"title\" must be a string"),
            std::string::npos);
  EXPECT_NE(tour_error(R"({"dmascope_tour": 1, "title": "T", "steps": [{"title": "A", "caption": "x.",
                          "session": 3}]})").find("must be an object or a path"),
            std::string::npos);
}

TEST(GuiTourFile, PanelsHighlightAndCitesAreParsedAndCheckedAgainstTheCaption) {
  const Tour tour = tour_from_json(R"({"dmascope_tour": 1, "title": "T", "steps": [
      {"title": "A", "caption": "Half of it, 43.7 %, is kept.", "session": {},
       "panels": ["overview", "timing"], "highlight": "density_labels", "cites": ["43.7 %"]},
      {"title": "B", "caption": "Defaults.", "session": {}}]})", "/tours/t.json");
  EXPECT_EQ(tour.steps[0].panels, (std::vector<TourPanel>{TourPanel::Overview, TourPanel::Timing}));
  EXPECT_EQ(tour.steps[0].highlight, TourHighlight::DensityLabels);
  EXPECT_EQ(tour.steps[0].cites, std::vector<std::string>{"43.7 %"});
  EXPECT_EQ(tour.steps[1].panels, (std::vector<TourPanel>{TourPanel::Heatmap, TourPanel::TileMap}));
  EXPECT_EQ(tour.steps[1].highlight, TourHighlight::None);

  auto step_error = [](const std::string& extra) {
    return tour_error(R"({"dmascope_tour": 1, "title": "T", "steps": [
        {"title": "A", "caption": "It keeps 12 keys.", "session": {})" + extra + "}]}");
  };
  EXPECT_NE(step_error(R"(, "panels": ["heatmap", "tiles", "timing"])").find("1 to 2 panel names"), std::string::npos);
  EXPECT_NE(step_error(R"(, "panels": ["heatmap", "heatmap"])").find("twice"), std::string::npos);
  const std::string unknown_panel = step_error(R"(, "panels": ["sauce"])");
  EXPECT_NE(unknown_panel.find("\"sauce\" is not one of: heatmap, tiles, overview, timing"), std::string::npos)
      << unknown_panel;
  EXPECT_NE(step_error(R"(, "highlight": "beta")").find("beta_strip"), std::string::npos);
  const std::string uncited = step_error(R"(, "cites": ["13"])");
  EXPECT_NE(uncited.find("step 1"), std::string::npos) << uncited;
  EXPECT_NE(uncited.find("cites \"13\", which the caption does not say"), std::string::npos) << uncited;
}

TEST(GuiTourFile, SentencesAreCountedAtEndMarksFollowedBySpaceOrTheEnd) {
  EXPECT_EQ(caption_sentence_count(""), 0);
  EXPECT_EQ(caption_sentence_count("   "), 0);
  EXPECT_EQ(caption_sentence_count("One sentence"), 1);
  EXPECT_EQ(caption_sentence_count("One sentence."), 1);
  EXPECT_EQ(caption_sentence_count("β = 1.5 keeps arXiv 2508.02124 in one."), 1);
  EXPECT_EQ(caption_sentence_count("One. Two? Three!"), 3);
  EXPECT_EQ(caption_sentence_count("One... Two"), 2);
}

TEST(GuiTourFile, TheBundledTourLoadsAndEveryStepOpensABundledModel) {
  const Tour tour = load_tour(bundled_tour());
  EXPECT_GE(tour.steps.size(), 6u);
  EXPECT_LE(tour.steps.size(), 8u);
  for (const TourStep& step : tour.steps) {
    EXPECT_TRUE(fs::exists(fs::path(step.session.settings.model_dir) / "config.json")) << step.title;
    EXPECT_LE(caption_sentence_count(step.caption), kMaxCaptionSentences) << step.title;
  }
}

TEST(GuiRecallTable, TheBundledTableHasEveryRowFullAndTheBundledRuns) {
  const RecallTable table = load_recall_table(bundled_recall_table());
  ASSERT_GE(table.columns.size(), 5u);
  std::set<std::string> runs;
  for (const auto& row : table.rows) {
    ASSERT_EQ(row.size(), table.columns.size());
    runs.insert(row[0]);
  }
  EXPECT_TRUE(runs.count("dma-mix"));
  EXPECT_TRUE(runs.count("dma-mqar"));
  EXPECT_FALSE(table.note.empty());
}

TEST(GuiRecallTable, ShortRowsAndWrongTypesAreRefusedNamingTheRow) {
  try {
    recall_table_from_json(R"({"dmascope_recall_table": 1, "title": "t", "note": "n", "source": "s",
                               "columns": ["a", "b"], "rows": [["1", "2"], ["3"]]})",
                           "r.json");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("r.json: row 2 has 1 cells"), std::string::npos) << error.what();
  }
  EXPECT_THROW(recall_table_from_json(R"({"dmascope_recall_table": 1, "title": "t", "note": "n", "source": "s",
                                          "columns": ["a"], "rows": [[1]]})", "r.json"), Error);
  EXPECT_THROW(recall_table_from_json(R"({"title": "t"})", "r.json"), Error);
}

TEST(GuiBundledAssets, FirstLaunchIsTheTrainedToyModelOnAnMqarTaskWithTiles16) {
  const Session session = first_launch_session("/fallback");
  EXPECT_EQ(fs::path(session.settings.model_dir).filename(), "doge-toy-mix");
  EXPECT_EQ(session.settings.source, SourceKind::Task);
  EXPECT_EQ(session.settings.task, ToyTask::Mqar);
  EXPECT_EQ(session.settings.length, 256) << "the training length";
  EXPECT_EQ(session.settings.window, 0) << "the model's own window";
  EXPECT_EQ(session.settings.tile_size, 16);
}

// ---- Screenshots under Xvfb ----------------------------------------------------------------------------------------

using dmascope::testing::run_command;

struct Shot {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
  nlohmann::json layout;
  std::array<int, 3> at(int x, int y) const {
    const std::size_t p = (static_cast<std::size_t>(y) * width + x) * 3;
    return {rgb[p], rgb[p + 1], rgb[p + 2]};
  }
};

Shot screenshot(const fs::path& dir, const std::string& arguments) {
  const fs::path png = dir / "shot.png", layout = dir / "shot.layout.json";
  const std::string command = std::string(DMASCOPE_XVFB_RUN) + " -a -s '-screen 0 1920x1200x24' '" +
                              DMASCOPE_GUI_PATH + "' --screenshot '" + png.string() + "' --layout-json '" +
                              layout.string() + "' " + arguments;
  std::string output;
  const int status = run_command(command, output);
  if (status != 0) throw std::runtime_error("dmascope exited with " + std::to_string(status) + ": " + output);
  Shot shot;
  int channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(png.c_str(), &shot.width, &shot.height, &channels, 3),
                                                   stbi_image_free);
  if (!pixels) throw std::runtime_error("cannot read " + png.string());
  shot.rgb.assign(pixels.get(), pixels.get() + static_cast<std::size_t>(shot.width) * shot.height * 3);
  std::ifstream(layout) >> shot.layout;
  return shot;
}

std::size_t distinct_colours(const Shot& shot, int x0, int y0, int x1, int y1, int stride) {
  std::set<std::uint32_t> colours;
  for (int y = y0; y < y1; y += stride)
    for (int x = x0; x < x1; x += stride) {
      const auto c = shot.at(x, y);
      colours.insert(static_cast<std::uint32_t>(c[0] << 16 | c[1] << 8 | c[2]));
    }
  return colours.size();
}

// --keys presses keys the way a user would (one whenever the app is idle), so the presenter's stepping is tested as a
// user drives it: → and Space forward, ← back (not past the first step), End to the last, Esc out.
TEST(GuiPresenter, TheKeysStepThroughTheTourAndLeaveIt) {
  const Tour tour = load_tour(bundled_tour());
  const fs::path dir = scratch_dir();
  Shot shot = screenshot(dir, "--present --keys right,space");
  EXPECT_EQ(shot.layout["presenter"]["step"], 3);
  EXPECT_EQ(shot.layout["presenter"]["caption"], tour.steps[2].caption);
  EXPECT_EQ(shot.layout["layer"], tour.steps[2].session.view.layer);
  shot = screenshot(dir, "--present --step 3 --keys left,left,left");
  EXPECT_EQ(shot.layout["presenter"]["step"], 1) << "← stops at the first step";
  shot = screenshot(dir, "--present --keys end");
  EXPECT_EQ(shot.layout["presenter"]["step"], tour.steps.size());
  EXPECT_EQ(shot.layout["length"], tour.steps.back().session.settings.length) << "the last step's own sequence";
  shot = screenshot(dir, "--present --step 2 --keys escape");
  EXPECT_FALSE(shot.layout["presenter"]["active"].get<bool>());
}

// Every step at a small and a common display: the step's panels are drawn and the others are not, the heatmap is
// large enough to read, the highlighted region is drawn, and every number the caption quotes from the screen was
// drawn whole (not clipped by a column, a window edge or the display) above the caption bar.
void expect_every_step_shows_what_its_caption_cites(int width, int height) {
  const Tour tour = load_tour(bundled_tour());
  const fs::path dir = scratch_dir();
  for (std::size_t step = 1; step <= tour.steps.size(); ++step) {
    const TourStep& expected = tour.steps[step - 1];
    SCOPED_TRACE(fmt::format("{}x{}, step {} \"{}\"", width, height, step, expected.title));
    const Shot shot = screenshot(dir, fmt::format("--present --step {} --size {}x{}", step, width, height));
    ASSERT_EQ(shot.width, width);
    const auto shows = [&](TourPanel panel) {
      return std::find(expected.panels.begin(), expected.panels.end(), panel) != expected.panels.end();
    };
    EXPECT_EQ(shot.layout["heatmap"]["drawn"].get<bool>(), shows(TourPanel::Heatmap));
    EXPECT_EQ(shot.layout["tiles"]["drawn"].get<bool>(), shows(TourPanel::TileMap));
    const float caption_top = shot.layout["presenter"]["caption_bar"]["y"];
    if (shows(TourPanel::Heatmap)) {
      const float side = shot.layout["heatmap"]["side"];
      EXPECT_GE(side, 0.35f * height) << "the heatmap is too small to read";
      EXPECT_LE(shot.layout["heatmap"]["y"].get<float>() + side, caption_top) << "the caption bar covers the heatmap";
    }
    if (expected.highlight != TourHighlight::None) {
      EXPECT_TRUE(shot.layout["regions"].contains(std::string(tour_highlight_name(expected.highlight))))
          << "the highlighted region was not drawn";
    }
    for (const std::string& cite : expected.cites) {
      bool shown = false;
      std::string partly;
      for (const auto& text : shot.layout["texts"]) {
        if (text["text"].get<std::string>().find(cite) == std::string::npos) continue;
        if (text["visible"].get<bool>() && text["rect"][3].get<float>() <= caption_top) shown = true;
        else partly = text["text"];
      }
      EXPECT_TRUE(shown) << "the caption cites \"" << cite << "\" but the screen does not show it whole"
                         << (partly.empty() ? std::string(" (not drawn at all)") : " (clipped: \"" + partly + "\")");
    }
  }
}

// The β pipeline window shows one key's stages and its rank, for the view's layer and head (the first launch: layer
// 1, head 0 of the trained toy model), and says so when the key is not a position of the sequence.
TEST(GuiBetaPipeline, TheWindowShowsTheKeysRankAndRefusesAKeyPastTheSequence) {
  const fs::path dir = scratch_dir();
  const auto texts_of = [](const Shot& shot) {
    std::string all;
    for (const auto& text : shot.layout["texts"]) all += text["text"].get<std::string>() + "\n";
    return all;
  };
  const Shot shot = screenshot(dir, "--size 1280x720 --beta-key 103");
  EXPECT_TRUE(shot.layout["beta_window"]["drawn"].get<bool>());
  EXPECT_EQ(shot.layout["beta_window"]["key"].get<std::int64_t>(), 103);
  EXPECT_NE(texts_of(shot).find("rank 37 of 104 keys on row 103"), std::string::npos) << texts_of(shot);
  const Shot past = screenshot(dir, "--size 1280x720 --beta-key 5000");
  EXPECT_TRUE(past.layout["beta_window"]["drawn"].get<bool>());
  EXPECT_EQ(texts_of(past).find("rank "), std::string::npos);
}

TEST(GuiPresenter, EveryStepShowsWhatItsCaptionCitesAt1280x720) { expect_every_step_shows_what_its_caption_cites(1280, 720); }

TEST(GuiPresenter, EveryStepShowsWhatItsCaptionCitesAt1920x1080) {
  expect_every_step_shows_what_its_caption_cites(1920, 1080);
}

// Leaving the tour gives the user back what was there: the settings (model, tokens), the view and the panels' places.
TEST(GuiPresenter, LeavingTheTourRestoresTheUsersSessionAndLayout) {
  const fs::path dir = scratch_dir();
  Session mine = first_launch_session("/fallback");
  mine.settings.source = SourceKind::Toy;
  mine.settings.toy = ToySequenceKind::Random;
  mine.settings.length = 96;
  mine.settings.seed = 11;
  mine.view.layer = 0;
  mine.view.head = 3;
  save_session(dir / "mine.json", mine);
  const std::string session = "--session '" + (dir / "mine.json").string() + "'";
  const Shot before = screenshot(dir, session);
  const Shot after = screenshot(dir, session + " --keys f11,right,escape --save-session '" +
                                         (dir / "after.json").string() + "'");
  EXPECT_FALSE(after.layout["presenter"]["active"].get<bool>());
  const Session restored = load_session(dir / "after.json");
  EXPECT_EQ(restored.settings, mine.settings) << "the tour's model and tokens stayed";
  EXPECT_EQ(restored.view.layer, mine.view.layer);
  EXPECT_EQ(restored.view.head, mine.view.head);
  EXPECT_EQ(after.layout["length"], 96);
  for (const char* picture : {"heatmap", "tiles"})
    for (const char* key : {"x", "y", "side"})
      EXPECT_EQ(after.layout[picture][key], before.layout[picture][key]) << picture << "." << key;

  // Started presenting (no place saved for any panel yet), Esc puts every panel at its first-launch place.
  const Shot first = screenshot(dir, "");
  const Shot left = screenshot(dir, "--present --step 2 --keys escape");
  for (const char* picture : {"heatmap", "tiles"})
    for (const char* key : {"x", "y", "side"})
      EXPECT_EQ(left.layout[picture][key], first.layout[picture][key]) << picture << "." << key;
}

TEST(GuiPresenter, TheViewKeysChangeLayerAndHead) {
  const Session first = first_launch_session("/fallback");
  const Shot shot = screenshot(scratch_dir(), "--keys pageup,],]");
  EXPECT_EQ(shot.layout["layer"], first.view.layer - 1) << "PageUp: the previous layer";
  EXPECT_EQ(shot.layout["head"], first.view.head + 2) << "]: the next head, twice";
}

TEST(GuiPresenter, ATourStepRendersTheHeatmapAndACaptionBarWithText) {
  const Tour tour = load_tour(bundled_tour());
  const std::size_t step = 3;  // 1-based, as --step takes it
  const Shot shot = screenshot(scratch_dir(), "--size 1920x1080 --present --step " + std::to_string(step));
  ASSERT_EQ(shot.width, 1920);
  EXPECT_GE(distinct_colours(shot, 0, 0, shot.width, shot.height, 3), 20u) << "the window looks blank";
  const auto& presenter = shot.layout["presenter"];
  EXPECT_TRUE(presenter["active"].get<bool>());
  EXPECT_EQ(presenter["step"], step);
  EXPECT_EQ(presenter["steps"], tour.steps.size());
  EXPECT_EQ(presenter["title"], tour.steps[step - 1].title);
  EXPECT_EQ(presenter["caption"], tour.steps[step - 1].caption);
  EXPECT_TRUE(shot.layout["heatmap"]["drawn"].get<bool>());
  EXPECT_EQ(shot.layout["layer"], tour.steps[step - 1].session.view.layer);
  EXPECT_EQ(shot.layout["head"], tour.steps[step - 1].session.view.head);
  // The caption bar: drawn across the window near the bottom, in its own colour, with text (many more colours
  // than a plain bar: anti-aliased glyphs) in the upper and the lower half (the title line and the caption).
  const auto& bar = presenter["caption_bar"];
  ASSERT_TRUE(bar["drawn"].get<bool>());
  const int x = bar["x"], y = bar["y"], width = bar["width"], height = bar["height"];
  EXPECT_EQ(width, shot.width);
  EXPECT_GT(y, shot.height / 2);
  EXPECT_GE(height, 100) << "large fonts: a title line and several caption lines";
  const auto background = shot.at(x + width / 2, y + 2);
  EXPECT_EQ(background, (std::array<int, 3>{33, 41, 61})) << "the caption bar's colour";
  EXPECT_GE(distinct_colours(shot, x, y, x + width, y + height / 2, 1), 10u) << "no title text";
  EXPECT_GE(distinct_colours(shot, x, y + height / 2, x + width, y + height, 1), 10u) << "no caption text";
}

TEST(GuiPresenter, AStepPastTheEndIsAnErrorThatNamesTheTour) {
  std::string output;
  const int status = run_command(std::string(DMASCOPE_XVFB_RUN) + " -a '" + DMASCOPE_GUI_PATH +
                                     "' --present --step 99 --screenshot '" + (scratch_dir() / "x.png").string() + "'",
                                 output);
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("dma-intro.json"), std::string::npos) << output;
  EXPECT_NE(output.find("step 99"), std::string::npos) << output;
}

TEST(GuiPresenter, TheAboutWindowRendersEveryRowOfTheRecallTable) {
  const RecallTable table = load_recall_table(bundled_recall_table());
  const Shot shot = screenshot(scratch_dir(), "--about");
  EXPECT_TRUE(shot.layout["about"]["drawn"].get<bool>());
  EXPECT_EQ(shot.layout["about"]["recall_rows"], table.rows.size());
  EXPECT_GE(shot.layout["about"]["models"].get<int>(), 3);
}

TEST(GuiPresenter, FirstLaunchOpensTheTrainedToyModel) {
  const fs::path dir = scratch_dir();
  const Shot shot = screenshot(dir, "--save-session '" + (dir / "first.json").string() + "'");
  const Session session = load_session(dir / "first.json");
  EXPECT_EQ(fs::path(session.settings.model_dir).filename(), "doge-toy-mix");
  EXPECT_EQ(session.settings.tile_size, 16);
  EXPECT_EQ(shot.layout["length"], 256) << "the sample is one training-length sequence";
  EXPECT_TRUE(shot.layout["heatmap"]["drawn"].get<bool>());
}

}  // namespace
}  // namespace dmascope::engine
