// Screenshot tests of the desktop app under Xvfb + Mesa, and the session file round trip. Each screenshot test runs
// `xvfb-run -a dmascope --session S --screenshot OUT.png --layout-json LAYOUT` and checks pixels of OUT against what
// it computes itself from core: the mask from β (doge_layer_bias, a separate code path from the forward's captures)
// through the dense top-k reference (dma_dense_keep_reference, sort per row), and the tile map from build_tile_map.
#include <gtest/gtest.h>

#include <stb_image.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>

#include "app/gui/engine_vocabulary.h"
#include "app/gui/render/colormaps.h"
#include "engine/session/session_file.h"
#include "core/attention/attention_cpu.h"
#include "core/mask/dma_mask.h"
#include "core/model/doge_forward.h"
#include "core/base/error.h"
#include "tests/run_command.h"
#include "tests/support/dma_dense_reference.h"
#include "core/toy/toy_sequences.h"

namespace dmascope::gui {
namespace {

namespace fs = std::filesystem;

// Colours are compared exactly up to this many units per channel: the grid shader writes lookup-table bytes
// unblended, so Mesa's llvmpipe reproduces them exactly; 2 units leave room for a driver that dithers.
constexpr int kColorTolerance = 2;

fs::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() / "dmascope-gui-tests" / info->name();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

using dmascope::testing::run_command;

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
  Rgb at(int x, int y) const {
    const std::size_t p = (static_cast<std::size_t>(y) * width + x) * 3;
    return {rgb[p], rgb[p + 1], rgb[p + 2]};
  }
};

Image read_png(const fs::path& path) {
  Image image;
  int channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(path.c_str(), &image.width, &image.height, &channels, 3),
                                                   stbi_image_free);
  if (!pixels) throw std::runtime_error("cannot read PNG " + path.string());
  image.rgb.assign(pixels.get(), pixels.get() + static_cast<std::size_t>(image.width) * image.height * 3);
  return image;
}

bool close_to(const Rgb& a, const Rgb& b) {
  for (int c = 0; c < 3; ++c)
    if (std::abs(int(a[c]) - int(b[c])) > kColorTolerance) return false;
  return true;
}

std::string rgb_text(const Rgb& c) {
  return "(" + std::to_string(c[0]) + "," + std::to_string(c[1]) + "," + std::to_string(c[2]) + ")";
}

struct Screenshot {
  Image image;
  nlohmann::json layout;
  fs::path png;
};

// Runs the app headless. An empty session path renders the first-launch view.
Screenshot take_screenshot(const fs::path& dir, const std::string& name, const fs::path& session,
                           const std::string& extra_arguments = {}) {
  Screenshot shot;
  shot.png = dir / (name + ".png");
  const fs::path layout = dir / (name + ".layout.json");
  std::string command = std::string(DMASCOPE_XVFB_RUN) + " -a -s '-screen 0 1920x1200x24' '" + DMASCOPE_GUI_PATH +
                        "' --screenshot '" + shot.png.string() + "' --layout-json '" + layout.string() + "'";
  if (!session.empty()) command += " --session '" + session.string() + "'";
  command += " " + extra_arguments;
  std::string output;
  const int status = run_command(command, output);
  if (status != 0) throw std::runtime_error("dmascope exited with " + std::to_string(status) + ": " + output);
  shot.image = read_png(shot.png);
  std::ifstream(layout) >> shot.layout;
  return shot;
}

// A small, fully determined case: 32 tokens, so that each cell is ~15 px on screen, layer 1 and head 2 (bias head 1
// of the transformers layout), w = the model's 16, 4×4 tiles, the grey map (kept = white, dropped = black).
Session small_session() {
  Session session;
  session.settings.model_dir = DMASCOPE_DEFAULT_MODEL_DIR;
  session.settings.source = SourceKind::Toy;
  session.settings.toy = ToySequenceKind::Random;
  session.settings.length = 32;
  session.settings.seed = 7;
  session.settings.window = 0;
  session.settings.tile_size = 4;
  session.view.layer = 1;
  session.view.head = 2;
  session.view.colormap = Colormap::Grey;
  return session;
}

struct IndependentMask {
  std::int64_t length = 0;
  std::vector<std::uint8_t> keep;  // [L, L]
  TileMap tiles;
};

IndependentMask independent_mask(const Session& session, std::int64_t bias_head) {
  const DogeModel model = DogeModel::load(session.settings.model_dir);
  const auto ids =
      make_toy_sequence(session.settings.toy, session.settings.length, model.config.vocab_size, session.settings.seed).ids;
  const std::int64_t L = static_cast<std::int64_t>(ids.size());
  const auto beta_all = doge_layer_bias(model, ids, session.view.layer);  // [Hb, L]
  const std::span<const float> beta(beta_all.data() + bias_head * L, static_cast<std::size_t>(L));
  const std::int64_t window = session.settings.window ? session.settings.window : model.config.keep_window_size;
  IndependentMask mask;
  mask.length = L;
  mask.keep = dma_dense_keep_reference(beta, L, window, session.settings.mask_variant);
  const auto death = dma_death_indices(beta, window, session.settings.mask_variant);
  mask.tiles = build_tile_map(death.data(), L, L, {session.settings.tile_size, session.settings.tile_size});
  return mask;
}

TEST(GuiScreenshot, FirstLaunchImageIsNotBlankAndDrawsTheHeatmapAndTileMap) {
  const Screenshot shot = take_screenshot(scratch_dir(), "first", {});
  EXPECT_EQ(shot.image.width, 1600);
  EXPECT_EQ(shot.image.height, 1000);
  std::set<std::uint32_t> colours;
  for (int y = 0; y < shot.image.height; y += 3)
    for (int x = 0; x < shot.image.width; x += 3) {
      const Rgb c = shot.image.at(x, y);
      colours.insert(c[0] << 16 | c[1] << 8 | c[2]);
    }
  EXPECT_GE(colours.size(), 20u) << "the window looks blank";
  EXPECT_TRUE(shot.layout["heatmap"]["drawn"].get<bool>());
  EXPECT_TRUE(shot.layout["tiles"]["drawn"].get<bool>());
  EXPECT_EQ(shot.layout["layer"], 1) << "first launch opens layer 1, whose heads keep the answers' values";
  EXPECT_EQ(shot.layout["head"], 0);
  // The heatmap itself holds kept and dropped cells (the two ends of viridis).
  const auto& table = colormap_table(Colormap::Viridis);
  int kept = 0, dropped = 0;
  const int x0 = shot.layout["heatmap"]["x"], y0 = shot.layout["heatmap"]["y"], side = shot.layout["heatmap"]["side"];
  for (int y = y0; y < y0 + side; y += 2)
    for (int x = x0; x < x0 + side; x += 2) {
      kept += close_to(shot.image.at(x, y), table[255]);
      dropped += close_to(shot.image.at(x, y), table[0]);
    }
  EXPECT_GT(kept, 100);
  EXPECT_GT(dropped, 100);
}

TEST(GuiScreenshot, HeatmapPixelsMatchAMaskComputedIndependentlyFromCore) {
  const fs::path dir = scratch_dir();
  const Session session = small_session();
  save_session(dir / "small.json", session);
  const Screenshot shot = take_screenshot(dir, "small", dir / "small.json");
  ASSERT_TRUE(shot.layout["heatmap"]["drawn"].get<bool>());
  ASSERT_EQ(shot.layout["bias_head"], 1);
  const IndependentMask mask = independent_mask(session, 1);
  const std::int64_t L = mask.length;
  ASSERT_EQ(shot.layout["length"], L);
  const double x0 = shot.layout["heatmap"]["x"], y0 = shot.layout["heatmap"]["y"], side = shot.layout["heatmap"]["side"];
  ASSERT_GE(side / L, 8.0) << "cells must be many pixels wide for this test";
  const auto& grey = colormap_table(Colormap::Grey);
  int checked = 0, kept = 0;
  for (std::int64_t i = 0; i < L; ++i)
    for (std::int64_t j = 0; j < L; ++j) {
      const int x = static_cast<int>(x0 + (j + 0.5) * side / L), y = static_cast<int>(y0 + (i + 0.5) * side / L);
      const Rgb expected = j > i ? kAboveDiagonalColor : mask.keep[i * L + j] ? grey[255] : grey[0];
      const Rgb got = shot.image.at(x, y);
      ASSERT_TRUE(close_to(got, expected)) << "cell (query " << i << ", key " << j << ") at pixel " << x << "," << y
                                           << ": got " << rgb_text(got) << ", expected " << rgb_text(expected);
      ++checked;
      kept += j <= i && mask.keep[i * L + j];
    }
  EXPECT_EQ(checked, L * L);
  EXPECT_GT(kept, L) << "a degenerate mask would prove little";
  EXPECT_LT(kept, L * (L + 1) / 2);
}

// The heatmap's dropped-mass overlay (D) for swa at the session's w = 16: the dense probability of what a sliding
// window drops is painted only where it drops (i − j ≥ w); above the diagonal and inside the window the picture is
// the plain mask's, pixel for pixel.
TEST(GuiScreenshot, DroppedMassOverlayTintsOnlyTheEntriesTheStrategyDropped) {
  const fs::path dir = scratch_dir();
  const Session session = small_session();
  save_session(dir / "small.json", session);
  const Screenshot plain = take_screenshot(dir, "plain", dir / "small.json");
  const Screenshot overlay = take_screenshot(dir, "overlay", dir / "small.json", "--keys D");
  ASSERT_TRUE(overlay.layout["heatmap"]["drawn"].get<bool>());
  ASSERT_EQ(overlay.layout["heatmap"], plain.layout["heatmap"]);
  constexpr std::int64_t kWindow = 16;  // small_session's model keep_window_size (doge-tiny-random)
  const std::int64_t L = overlay.layout["length"];
  const double x0 = overlay.layout["heatmap"]["x"], y0 = overlay.layout["heatmap"]["y"];
  const double side = overlay.layout["heatmap"]["side"];
  int unchanged_outside = 0, changed_dropped = 0, dropped_cells = 0;
  for (std::int64_t i = 0; i < L; ++i)
    for (std::int64_t j = 0; j < L; ++j) {
      const int x = static_cast<int>(x0 + (j + 0.5) * side / L), y = static_cast<int>(y0 + (i + 0.5) * side / L);
      const bool same = close_to(plain.image.at(x, y), overlay.image.at(x, y));
      if (j > i || i - j < kWindow) {
        ASSERT_TRUE(same) << "cell (query " << i << ", key " << j << ") is kept by swa or above the diagonal, yet "
                          << "the overlay changed it: " << rgb_text(plain.image.at(x, y)) << " → "
                          << rgb_text(overlay.image.at(x, y));
        ++unchanged_outside;
      } else {
        ++dropped_cells;
        changed_dropped += !same;
      }
    }
  EXPECT_GT(unchanged_outside, 0);
  ASSERT_GT(dropped_cells, 0);
  // Opacity grows with the probability, so the faintest dropped entries leave the mask visible; the heavy ones tint.
  EXPECT_GT(changed_dropped, dropped_cells / 10) << changed_dropped << " of " << dropped_cells << " dropped cells";
}

TEST(GuiScreenshot, TileMapColorsMatchTheCpuTileMap) {
  const fs::path dir = scratch_dir();
  const Session session = small_session();
  save_session(dir / "small.json", session);
  const Screenshot shot = take_screenshot(dir, "small", dir / "small.json");
  ASSERT_TRUE(shot.layout["tiles"]["drawn"].get<bool>());
  const IndependentMask mask = independent_mask(session, 1);
  const TileMap& tiles = mask.tiles;
  const std::int64_t L = mask.length, tile = session.settings.tile_size;
  const double x0 = shot.layout["tiles"]["x"], y0 = shot.layout["tiles"]["y"], side = shot.layout["tiles"]["side"];
  std::set<int> statuses_seen;
  for (std::int64_t qt = 0; qt < tiles.q_tiles; ++qt)
    for (std::int64_t kt = 0; kt < tiles.k_tiles; ++kt) {
      const int x = static_cast<int>(x0 + (kt + 0.5) * tile * side / L);
      const int y = static_cast<int>(y0 + (qt + 0.5) * tile * side / L);
      const bool causal = kt * tile <= std::min((qt + 1) * tile, L) - 1;
      const auto status = static_cast<TileStatus>(tiles.status[qt * tiles.k_tiles + kt]);
      const Rgb expected = !causal                          ? kAboveDiagonalColor
                           : status == TileStatus::Skipped  ? kTileSkippedColor
                           : status == TileStatus::Partial ? kTilePartialColor
                                                            : kTileFullColor;
      if (causal) statuses_seen.insert(static_cast<int>(status));
      const Rgb got = shot.image.at(x, y);
      ASSERT_TRUE(close_to(got, expected)) << "tile (" << qt << ", " << kt << ") " << tile_status_name(status)
                                           << ": got " << rgb_text(got) << ", expected " << rgb_text(expected);
    }
  EXPECT_GE(statuses_seen.size(), 2u) << "the case should show more than one tile status";
}

TEST(GuiScreenshot, SessionFileRoundTripsToTheSameImage) {
  const fs::path dir = scratch_dir();
  Session session;
  session.settings.model_dir = DMASCOPE_DEFAULT_MODEL_DIR;
  session.settings.toy = ToySequenceKind::Needle;
  session.settings.length = 96;
  session.settings.window = 8;
  session.settings.tile_size = 8;
  session.view.layer = 1;
  session.view.head = 1;
  session.view.colormap = Colormap::Magma;
  session.view.scale = ColorScale::Log;
  session.view.reduce = ReduceMode::Max;
  session.view.zoom_pan = {2.5, 60.0, 30.0};
  session.view.zoom_pan_length = 96;
  save_session(dir / "first.json", session);
  const Screenshot first = take_screenshot(dir, "first", dir / "first.json",
                                           "--save-session '" + (dir / "saved.json").string() + "'");
  const Session saved = load_session(dir / "saved.json");
  EXPECT_EQ(saved.settings, session.settings);
  EXPECT_EQ(saved.view, session.view);
  const Screenshot second = take_screenshot(dir, "second", dir / "saved.json");
  ASSERT_EQ(first.image.width, second.image.width);
  ASSERT_EQ(first.image.height, second.image.height);
  std::size_t differing = 0;
  for (std::size_t p = 0; p < first.image.rgb.size(); ++p) differing += first.image.rgb[p] != second.image.rgb[p];
  EXPECT_EQ(differing, 0u) << "the session's second rendering differs from the first";
  EXPECT_DOUBLE_EQ(first.layout["window"]["col_begin"].get<double>(), second.layout["window"]["col_begin"].get<double>());
}

TEST(GuiScreenshot, WithoutADisplayTheAppSaysSoAndFails) {
  std::string output;
  const int status = run_command(std::string("env -u DISPLAY -u WAYLAND_DISPLAY '") + DMASCOPE_GUI_PATH +
                                     "' --screenshot '" + (scratch_dir() / "none.png").string() + "'",
                                 output);
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("no display"), std::string::npos) << output;
  EXPECT_NE(output.find("xvfb-run"), std::string::npos) << output;
}

// The logits view at one pixel per cell region: every kept cell shows q·k/√d + β (computed here in double from a
// forward's q/k captures, normalised by the min and max over the kept cells, through the grey map), every masked
// cell the hatch (4-px diagonal stripes of kMaskedColor and kAboveDiagonalColor, phase from GL window coordinates).
TEST(GuiScreenshot, LogitsViewPixelsMatchLogitsComputedInTheTestAndMaskedCellsAreHatched) {
  const fs::path dir = scratch_dir();
  Session session = small_session();
  session.view.quantity = HeatmapQuantity::Logits;
  save_session(dir / "logits.json", session);
  const Screenshot shot = take_screenshot(dir, "logits", dir / "logits.json");
  ASSERT_TRUE(shot.layout["heatmap"]["drawn"].get<bool>());

  const DogeModel model = DogeModel::load(session.settings.model_dir);
  const auto ids =
      make_toy_sequence(session.settings.toy, session.settings.length, model.config.vocab_size, session.settings.seed).ids;
  const auto L = static_cast<std::int64_t>(ids.size());
  ForwardOptions options;
  options.window = session.settings.window;
  const ForwardResult forward = doge_forward(model, ids, options);
  const LayerCapture& layer = forward.layers[session.view.layer];
  const std::int64_t H = model.config.num_attention_heads, Hkv = model.config.num_key_value_heads;
  const std::int64_t d = model.config.head_dim, head = session.view.head, Hb = model.weights.bias_heads;
  const std::int64_t kv_head = head / (H / Hkv), bias_head = Hb == H ? head : head / (H / Hb);
  const float* q = layer.q_rope.data<float>() + head * L * d;
  const float* k = layer.k_rope.data<float>() + kv_head * L * d;
  const float* beta = layer.dyn_bias.data<float>() + bias_head * L;
  const std::int32_t* death = layer.death.data<std::int32_t>() + bias_head * L;
  std::vector<double> logits(static_cast<std::size_t>(L * L), 0.0);
  double low = 1e300, high = -1e300;
  for (std::int64_t i = 0; i < L; ++i)
    for (std::int64_t j = 0; j <= i && j < L; ++j) {
      if (i >= death[j]) continue;
      double dot = 0.0;
      for (std::int64_t c = 0; c < d; ++c) dot += static_cast<double>(q[i * d + c]) * k[j * d + c];
      logits[i * L + j] = dot / std::sqrt(static_cast<double>(d)) + beta[j];
      low = std::min(low, logits[i * L + j]);
      high = std::max(high, logits[i * L + j]);
    }

  const double x0 = shot.layout["heatmap"]["x"], y0 = shot.layout["heatmap"]["y"], side = shot.layout["heatmap"]["side"];
  const int image_height = shot.image.height;
  const auto& grey = colormap_table(Colormap::Grey);
  int kept = 0, masked = 0;
  for (std::int64_t i = 0; i < L; ++i)
    for (std::int64_t j = 0; j < L; ++j) {
      const int x = static_cast<int>(x0 + (j + 0.5) * side / L), y = static_cast<int>(y0 + (i + 0.5) * side / L);
      const Rgb got = shot.image.at(x, y);
      Rgb expected = kAboveDiagonalColor;
      if (j <= i && i < death[j]) {
        expected = grey[colormap_index(static_cast<float>((logits[i * L + j] - low) / (high - low)))];
        ++kept;
      } else if (j <= i) {
        const bool stripe = ((x + image_height - y) / 4) % 2 == 0;
        expected = stripe ? kMaskedColor : kAboveDiagonalColor;
        masked += stripe;
      }
      ASSERT_TRUE(close_to(got, expected)) << "cell (query " << i << ", key " << j << ") at pixel " << x << "," << y
                                           << ": got " << rgb_text(got) << ", expected " << rgb_text(expected);
    }
  EXPECT_GT(kept, L) << "a degenerate mask would prove little";
  EXPECT_GT(masked, 10) << "the case should show masked cells";
}

// --ui-scale 2 rasterises the font at twice the size and the layout still places the heatmap.
TEST(GuiScreenshot, UiScaleTwoDoublesTheFontAndTheHeatmapIsStillDrawn) {
  const fs::path dir = scratch_dir();
  const Session session = small_session();
  save_session(dir / "small.json", session);
  const Screenshot normal = take_screenshot(dir, "normal", dir / "small.json");
  const Screenshot large = take_screenshot(dir, "large", dir / "small.json", "--ui-scale 2");
  ASSERT_TRUE(large.layout["heatmap"]["drawn"].get<bool>());
  EXPECT_DOUBLE_EQ(large.layout["font_pixels"].get<double>(), 2 * normal.layout["font_pixels"].get<double>());
  EXPECT_GE(large.layout["heatmap"]["side"].get<double>(), 200.0) << "the heatmap should keep a usable size";
  EXPECT_EQ(large.image.width, normal.image.width);
}

// The monitor's content scale: an X server whose Xft.dpi is 192 (twice the 96 of scale 1) gives a font twice as large
// with --ui-scale auto (which follows the monitor in screenshots too). -noreset keeps the root window's resources
// after xprop disconnects.
TEST(GuiScreenshot, ContentScaleOfTheMonitorScalesTheFont) {
  std::string output;
  if (run_command("command -v xprop", output) != 0) GTEST_SKIP() << "xprop (x11-utils) is needed to set Xft.dpi";
  const fs::path dir = scratch_dir();
  const std::string command = std::string(DMASCOPE_XVFB_RUN) +
                              " -a -s '-screen 0 1920x1200x24 -noreset' sh -c \"xprop -root -f RESOURCE_MANAGER 8s "
                              "-set RESOURCE_MANAGER 'Xft.dpi: 192' && '" +
                              DMASCOPE_GUI_PATH + "' --ui-scale auto --screenshot '" + (dir / "dpi.png").string() +
                              "' --layout-json '" + (dir / "dpi.json").string() + "'\"";
  ASSERT_EQ(run_command(command, output), 0) << output;
  nlohmann::json layout;
  std::ifstream(dir / "dpi.json") >> layout;
  EXPECT_DOUBLE_EQ(layout["font_pixels"].get<double>(), 30.0) << "15 px × content scale 2";
  EXPECT_TRUE(layout["heatmap"]["drawn"].get<bool>());
}

std::string read_file_text(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

// Runs that render or measure and exit are nobody's use of the app: they must leave the user's files as they were —
// the recent-models list ($XDG_CONFIG_HOME/dmascope/recent.json, which the Source panel updates when a result of a
// new model arrives) and imgui.ini (in the config folder, or ImGui's default in the current folder).
TEST(GuiScreenshot, NonInteractiveRunsWriteNeitherTheRecentListNorImguiIni) {
  const fs::path dir = scratch_dir();
  const fs::path home = dir / "home", config = dir / "config", cwd = dir / "cwd";
  for (const fs::path& folder : {home, config / "dmascope", cwd}) fs::create_directories(folder);
  const std::string recent = "{\"dmascope_recent_models\": 1, \"models\": [\"/nowhere/model-a\"]}\n";
  std::ofstream(config / "dmascope/recent.json") << recent;
  save_session(dir / "small.json", small_session());
  const std::string environment = "cd '" + cwd.string() + "' && HOME='" + home.string() + "' XDG_CONFIG_HOME='" +
                                  config.string() + "' XDG_CACHE_HOME='" + (dir / "cache").string() + "' ";
  const std::string app = std::string(DMASCOPE_XVFB_RUN) + " -a -s '-screen 0 1920x1200x24' '" + DMASCOPE_GUI_PATH + "'";
  const std::string session = " --session '" + (dir / "small.json").string() + "'";
  for (const std::string& arguments :
       {session + " --screenshot '" + (dir / "shot.png").string() + "'",
        " --present --step 1 --screenshot '" + (dir / "present.png").string() + "'",
        session + " --size 640x480 --measure '" + (dir / "measure.json").string() + "'",
        session + " --size 640x480 --measure '" + (dir / "measure2.json").string() + "' --screenshot '" +
            (dir / "measure.png").string() + "'"}) {
    std::string output;
    ASSERT_EQ(run_command(environment + app + arguments, output), 0) << arguments << "\n" << output;
    EXPECT_EQ(read_file_text(config / "dmascope/recent.json"), recent) << "the recent list changed after" << arguments;
  }
  for (const fs::path& folder : {home, config, cwd})
    for (const auto& entry : fs::recursive_directory_iterator(folder))
      EXPECT_NE(entry.path().filename(), "imgui.ini") << entry.path();
  std::set<std::string> config_files;
  for (const auto& entry : fs::recursive_directory_iterator(config))
    config_files.insert(fs::relative(entry.path(), config).string());
  EXPECT_EQ(config_files, (std::set<std::string>{"dmascope", "dmascope/recent.json"}));
}

// An interactive run keeps the layout in imgui.ini, written whole by a rename (ImGui would rewrite the file in place,
// and a crash mid-write would leave half a layout): a run ended by SIGTERM quits like a closed window, leaving a
// complete file and no temporary one. A FIFO named imgui.ini is neither read (it would block the start) nor replaced.
TEST(GuiScreenshot, InteractiveRunSavesTheLayoutAtomicallyAndLeavesAFifoAlone) {
  const fs::path dir = scratch_dir();
  const fs::path config = dir / "config";
  fs::create_directories(config / "dmascope");
  save_session(dir / "small.json", small_session());
  const std::string environment = "cd '" + dir.string() + "' && HOME='" + dir.string() + "' XDG_CONFIG_HOME='" +
                                  config.string() + "' XDG_CACHE_HOME='" + (dir / "cache").string() + "' ";
  // timeout sends SIGTERM to the app after 8 s (to the app and then to its process group, so twice), and SIGKILL 20 s
  // later if it has not quit by then; --preserve-status passes on the app's own exit status.
  const std::string app = std::string(DMASCOPE_XVFB_RUN) +
                          " -a -s '-screen 0 1280x720x24' timeout --preserve-status -k 20 8 '" +
                          DMASCOPE_GUI_PATH + "' --session '" + (dir / "small.json").string() + "'";
  std::string output;
  EXPECT_EQ(run_command(environment + app, output), 0) << "SIGTERM did not end the app like a closed window:\n"
                                                        << output;
  const fs::path ini = config / "dmascope/imgui.ini";
  ASSERT_TRUE(fs::is_regular_file(ini)) << output;
  const std::string layout = read_file_text(ini);
  EXPECT_NE(layout.find("[Window]["), std::string::npos) << layout;
  EXPECT_EQ(layout.back(), '\n') << "a layout cut short";
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(config / "dmascope")) names.insert(entry.path().filename().string());
  for (const std::string& name : names) EXPECT_TRUE(name == "imgui.ini" || name == "recent.json") << name;

  fs::remove(ini);
  ASSERT_EQ(::mkfifo(ini.c_str(), 0600), 0);
  run_command(environment + app, output);
  EXPECT_TRUE(fs::is_fifo(ini)) << "the FIFO was replaced";
  EXPECT_NE(output.find("imgui.ini"), std::string::npos) << output;
  EXPECT_NE(output.find("not read or saved"), std::string::npos) << output;
}

TEST(GuiSessionFile, JsonRoundTripKeepsEverySettingAndViewField) {
  Session session = small_session();
  session.settings.source = SourceKind::Ids;
  session.settings.ids = {1, 2, 3};
  session.settings.text = "héllo";
  session.settings.mask_variant = MaskVariant::SharedTopK;
  session.settings.backend = Backend::Cuda;
  session.settings.timing_dtype = Precision::F16;
  session.settings.model_precision = Precision::F32;  // not the default (bf16): a dropped key would show
  session.view.quantity = HeatmapQuantity::Probabilities;
  session.view.zoom_pan = {3.0, 10.5, 7.25};
  session.view.zoom_pan_length = 32;
  const Session back = session_from_json(session_to_json(session), "test");
  EXPECT_EQ(back.settings, session.settings);
  EXPECT_EQ(back.view, session.view);
}

TEST(GuiSessionFile, BadValuesAreRefusedNamingTheKey) {
  try {
    session_from_json(R"({"dmascope_session": 1, "view": {"colormap": "rainbow"}})", "s.json");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("view.colormap"), std::string::npos) << error.what();
  }
  EXPECT_THROW(session_from_json(R"({"dmascope_session": 1, "settings": {"length": "long"}})", "s.json"), Error);
  try {
    session_from_json(R"({"dmascope_session": 1, "settings": {"dtype": "fp8"}})", "s.json");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("settings.dtype"), std::string::npos) << error.what();
  }
  try {
    session_from_json(R"({"dmascope_session": 1, "settings": {"model_precision": "fp16"}})", "s.json");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("settings.model_precision"), std::string::npos) << error.what();
  }
  EXPECT_THROW(session_from_json(R"({"settings": {}})", "s.json"), Error);
  EXPECT_THROW(session_from_json("not json", "s.json"), Error);
}

}  // namespace
}  // namespace dmascope::gui
