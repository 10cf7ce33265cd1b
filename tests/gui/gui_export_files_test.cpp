// The export rule (engine/export/export_files.h), without a window: names say what a file holds, an earlier export is
// never replaced (a taken name gets a number, also when two exports race), a failed write leaves nothing behind and
// its error names the path and the reason, the folder is created and "~" is the home folder.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "engine/export/export_files.h"
#include "engine/pipeline/pipeline_compute.h"
#include "core/base/error.h"

namespace dmascope::engine {
namespace {

namespace fs = std::filesystem;

fs::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() / "dmascope-export-tests" / info->name();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_text(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

TEST(GuiExportFiles, NamesJoinTheirPartsAndReplaceCharactersThatDoNotBelongInAFileName) {
  const ExportName name = export_name({"dmascope-tiles", "my model/v2 (fp32)", "", "layer1", "L4K"}, "csv");
  EXPECT_EQ(name.file_name(), "dmascope-tiles-my_model_v2__fp32_-layer1-L4K.csv");
  EXPECT_EQ(name.file_name(3), "dmascope-tiles-my_model_v2__fp32_-layer1-L4K-3.csv");
  EXPECT_EQ(export_name({".hidden"}, "png").file_name(), "dmascope-.hidden.png") << "never a hidden file";
}

TEST(GuiExportFiles, ResultNamesSayModelLayerHeadLengthAndWindow) {
  PipelineSettings settings;
  settings.model_dir = DMASCOPE_DEFAULT_MODEL_DIR;
  settings.toy = ToySequenceKind::Random;
  settings.length = 64;
  settings.window = 8;
  settings.tile_size = 16;
  ModelCache models;
  ComputeProgress progress;
  std::atomic<bool> cancel{false};
  const auto result = compute_pipeline_result(settings, models, progress, cancel);
  const std::string model = fs::path(DMASCOPE_DEFAULT_MODEL_DIR).filename().string();
  ViewState view;
  view.layer = 1;
  view.head = 2;
  EXPECT_EQ(window_png_name(result.get(), view).file_name(),
            "dmascope-window-" + model + "-layer1-head2-mask-L64-w8.png");
  EXPECT_EQ(window_png_name(nullptr, view).file_name(), "dmascope-window.png");
  EXPECT_EQ(masks_export_name(*result).file_name(), "dmascope-masks-" + model + "-L64-w8.safetensors");
  EXPECT_EQ(tile_map_csv_name(*result, 1).file_name(), "dmascope-tiles-" + model + "-layer1-tiles16x16-L64-w8.csv");
  LayerTiming timing;
  timing.layer = 1;
  timing.length = 64;
  timing.window = 8;
  EXPECT_EQ(layer_timing_csv_name(*result, timing).file_name(), "dmascope-timing-" + model + "-layer1-cpu-L64-w8.csv");
  TimingSweep sweep;
  sweep.kind = SweepKind::Length;
  EXPECT_EQ(timing_sweep_csv_name(*result, sweep).file_name(), "dmascope-sweep-L-" + model + "-cpu-w8.csv");
  sweep.kind = SweepKind::Window;
  sweep.layer = 1;
  EXPECT_EQ(timing_sweep_csv_name(*result, sweep).file_name(), "dmascope-sweep-w-" + model + "-layer1-cpu-L64.csv");
}

TEST(GuiExportFiles, AnEarlierExportIsNeverReplacedTheNextOneGetsANumberedName) {
  const fs::path dir = scratch_dir() / "created/on/first/export";
  const ExportName name = export_name({"dmascope-sweep-L"}, "csv");
  const fs::path first = write_export_text(dir, name, "first\n");
  const fs::path second = write_export_text(dir, name, "second\n");
  const fs::path third = write_export_text(dir, name, "third\n");
  EXPECT_EQ(first, dir / "dmascope-sweep-L.csv");
  EXPECT_EQ(second, dir / "dmascope-sweep-L-2.csv");
  EXPECT_EQ(third, dir / "dmascope-sweep-L-3.csv");
  EXPECT_EQ(read_text(first), "first\n");
  EXPECT_EQ(read_text(second), "second\n");
  EXPECT_EQ(names_in(dir), (std::set<std::string>{"dmascope-sweep-L.csv", "dmascope-sweep-L-2.csv",
                                                  "dmascope-sweep-L-3.csv"}))
      << "no temporary file is left";
}

TEST(GuiExportFiles, ExportsRacingForOneNameEachGetTheirOwnFile) {
  const fs::path dir = scratch_dir();
  const ExportName name = export_name({"dmascope-tiles"}, "csv");
  constexpr int kThreads = 4, kPerThread = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int n = 0; n < kPerThread; ++n) write_export_text(dir, name, std::to_string(t * kPerThread + n));
    });
  for (auto& thread : threads) thread.join();
  const std::set<std::string> names = names_in(dir);
  ASSERT_EQ(names.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> contents;
  for (const std::string& file : names) contents.insert(read_text(dir / file));
  EXPECT_EQ(contents.size(), names.size()) << "no export replaced another";
}

TEST(GuiExportFiles, AFailedWriteLeavesNothingBehindAndItsErrorNamesThePathAndTheReason) {
  const fs::path dir = scratch_dir();
  const ExportName name = export_name({"dmascope-masks"}, "safetensors");
  try {
    write_export(dir, name, [](const fs::path& path) {
      std::ofstream(path) << "half a file";
      throw Error("the tensors do not fit");
    });
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find((dir / "dmascope-masks.safetensors").string()), std::string::npos) << message;
    EXPECT_NE(message.find("the tensors do not fit"), std::string::npos) << message;
  }
  EXPECT_TRUE(names_in(dir).empty());
  // A folder that cannot be made (a file is in the way): the error says which path and why.
  std::ofstream(dir / "a-file") << "x";
  try {
    write_export_text(dir / "a-file/exports", name, "bytes");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find((dir / "a-file/exports").string()), std::string::npos) << message;
    EXPECT_NE(message.find("cannot create the folder"), std::string::npos) << message;
  }
}

TEST(GuiExportFiles, ATildeIsTheHomeFolderAndTheDefaultFolderIsUnderIt) {
  const char* home = std::getenv("HOME");
  if (!home || !*home) GTEST_SKIP() << "HOME is not set";
  EXPECT_EQ(default_export_folder(), "~/dmascope-exports");
  EXPECT_EQ(expand_home("~/dmascope-exports"), fs::path(home) / "dmascope-exports");
  EXPECT_EQ(expand_home("~"), fs::path(home));
  EXPECT_EQ(expand_home("~user/x"), fs::path("~user/x")) << "another user's home is not looked up";
  EXPECT_EQ(expand_home("/tmp/x"), fs::path("/tmp/x"));
}

}  // namespace
}  // namespace dmascope::engine

namespace dmascope::engine {
namespace {

// A panel's PNG is the window's image cropped to the panel: the pixels must be those of the region, clipped at the
// window's edges, and a region wholly outside is an error that says so.
TEST(GuiExportFiles, APanelPngIsTheWindowImageCroppedToThePanel) {
  RgbaImage window;
  window.width = 6;
  window.height = 4;
  for (int y = 0; y < window.height; ++y)
    for (int x = 0; x < window.width; ++x)
      window.pixels.insert(window.pixels.end(), {static_cast<std::uint8_t>(x), static_cast<std::uint8_t>(y), 7, 255});
  const RgbaImage panel = crop_image(window, PixelRect{2, 1, 3, 2});
  ASSERT_EQ(panel.width, 3);
  ASSERT_EQ(panel.height, 2);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) {
      const std::size_t at = (static_cast<std::size_t>(y) * 3 + x) * 4;
      EXPECT_EQ(panel.pixels[at], x + 2);
      EXPECT_EQ(panel.pixels[at + 1], y + 1);
    }
  const RgbaImage clipped = crop_image(window, PixelRect{4, -1, 10, 3});  // over the right and top edges
  EXPECT_EQ(clipped.width, 2);
  EXPECT_EQ(clipped.height, 2);
  EXPECT_EQ(clipped.pixels[0], 4);
  EXPECT_EQ(clipped.pixels[1], 0);
  EXPECT_THROW(crop_image(window, PixelRect{6, 0, 3, 3}), Error);
  EXPECT_EQ(panel_png_name(nullptr, ViewState{}, "heatmap").file_name(), "dmascope-heatmap.png");
}

}  // namespace
}  // namespace dmascope::engine
