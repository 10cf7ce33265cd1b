// dmascope: the desktop app. Interactive by default; with --screenshot it renders the first-launch view (or the
// session's), waits until the computation has finished, writes the window as a PNG and exits.
#include <fmt/core.h>

#include <GLFW/glfw3.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/gui/app.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/session/bundled_assets.h"
#include "app/gui/platform/fullscreen_switch.h"
#include "app/gui/platform/frame_benchmark.h"
#include "app/gui/platform/headless_window.h"
#include "app/gui/platform/gl_window.h"
#include "engine/session/model_discovery.h"
#include "app/gui/panels/panels.h"
#include "app/gui/platform/png_export.h"
#include "engine/session/tour_file.h"
#include "core/formats/atomic_write.h"
#include "core/base/error.h"

namespace {

using namespace dmascope;
using namespace dmascope::gui;

constexpr const char* kUsage = R"(usage: dmascope [--session FILE] [--model DIR] [--present [TOUR]] [--screenshot OUT.png]

  --session FILE      open a saved session (settings and view)
  --model DIR         a Doge model folder (config.json + safetensors); without --session and --model the app opens
                      the bundled trained toy model (assets/models/doge-toy-mix) on an MQAR example, answers scored
  --present [TOUR]    presenter mode: full screen, large fonts, a tour of sessions with captions (default: the
                      bundled tour assets/tours/dma-intro.json); ← → Space PgUp PgDn step, Esc leaves, F11 toggles
  --step K            with --present: start at step K (1-based); with --screenshot, render that step
  --about             open the About / Tour window (bundled models, recall table)
  --screenshot OUT    render the window once the computation has finished, write OUT (PNG) and exit
  --size WxH          window size (default 1600x1000)
  --ui-scale S        fonts and widget sizes × S (0.5 to 4); default: the monitor's content scale (1 in screenshots);
                      "auto": the monitor's, in screenshots too
  --save-session FILE with --screenshot: also write the session that was rendered
  --layout-json FILE  with --screenshot: also write where the heatmap and tile map were drawn (for tests)
  --keys K,K,...      with --screenshot: press these keys first, one whenever the app is idle (right, left, up,
                      down, space, pageup, pagedown, home, end, escape, f1, f2, f11, a letter or digit, [ ] + -;
                      ctrl+KEY), then capture: what a user's keys would show
  --measure OUT.json  measure frame times while panning and zooming, and the recompute time after window-slider
                      moves (vsync off), write OUT.json and exit (app/gui/platform/frame_benchmark.h says what is timed);
                      with --screenshot, also the last frame measured
  --headless          with --measure: render offscreen on a GPU through EGL (no display needed)

Keys: F1 in the app lists the shortcuts. Without a display, run headless with: xvfb-run -a dmascope --screenshot out.png
)";

constexpr int kExitUsage = 2, kExitNoDisplay = 3;
constexpr double kScreenshotTimeoutSeconds = 600.0;
constexpr int kSettledFramesBeforeCapture = 3;  // let auto-sized windows and layouts settle

struct Arguments {
  std::string session, model, screenshot, save_session, layout_json, measure;
  std::vector<KeyPress> keys;  // --keys: pressed before the screenshot
  bool headless = false, present = false, about = false;
  std::string tour;   // --present's file; empty: the bundled tour
  int step = 1;       // --step, 1-based
  bool step_given = false;
  int width = 1600, height = 1000;
  float ui_scale = 0.0f;  // --ui-scale; 0: the monitor's (1 in screenshots); -1: "auto"
};

// --keys: "right,ctrl+s,2" → the presses GLFW would report.
std::vector<KeyPress> parse_key_list(const std::string& list) {
  static const std::pair<const char*, int> kNamed[] = {
      {"right", GLFW_KEY_RIGHT}, {"left", GLFW_KEY_LEFT},         {"up", GLFW_KEY_UP},     {"down", GLFW_KEY_DOWN},
      {"space", GLFW_KEY_SPACE}, {"pageup", GLFW_KEY_PAGE_UP},    {"pagedown", GLFW_KEY_PAGE_DOWN},
      {"home", GLFW_KEY_HOME},   {"end", GLFW_KEY_END},           {"escape", GLFW_KEY_ESCAPE}, {"f1", GLFW_KEY_F1},
      {"f2", GLFW_KEY_F2},       {"f5", GLFW_KEY_F5},             {"f11", GLFW_KEY_F11},   {"[", GLFW_KEY_LEFT_BRACKET},
      {"]", GLFW_KEY_RIGHT_BRACKET}, {"+", GLFW_KEY_EQUAL},       {"-", GLFW_KEY_MINUS}};
  std::vector<KeyPress> keys;
  std::stringstream items(list);
  for (std::string item; std::getline(items, item, ',');) {
    KeyPress press;
    std::string name = item;
    if (name.rfind("ctrl+", 0) == 0) {
      press.ctrl = true;
      name = name.substr(5);
    }
    for (const auto& [known, key] : kNamed)
      if (name == known) press.key = key;
    if (press.key == 0 && name.size() == 1 && std::isalnum(static_cast<unsigned char>(name[0])))
      press.key = std::toupper(static_cast<unsigned char>(name[0]));  // GLFW_KEY_A.. and GLFW_KEY_0.. are ASCII
    if (press.key == 0) fail("argument --keys: unknown key '{}'", item);
    keys.push_back(press);
  }
  if (keys.empty()) fail("argument --keys: no keys given");
  return keys;
}

Arguments parse_arguments(int argc, char** argv) {
  Arguments args;
  std::vector<std::string> list(argv + 1, argv + argc);
  for (std::size_t n = 0; n < list.size(); ++n) {
    const std::string& flag = list[n];
    auto value = [&]() -> std::string {
      if (n + 1 >= list.size()) fail("argument {} needs a value", flag);
      return list[++n];
    };
    if (flag == "--session") args.session = value();
    else if (flag == "--model") args.model = value();
    else if (flag == "--screenshot") args.screenshot = value();
    else if (flag == "--save-session") args.save_session = value();
    else if (flag == "--layout-json") args.layout_json = value();
    else if (flag == "--measure") args.measure = value();
    else if (flag == "--keys") args.keys = parse_key_list(value());
    else if (flag == "--headless") args.headless = true;
    else if (flag == "--about") args.about = true;
    else if (flag == "--present") {
      args.present = true;
      if (n + 1 < list.size() && list[n + 1].rfind("--", 0) != 0) args.tour = list[++n];  // the TOUR is optional
    } else if (flag == "--step") {
      const std::string step = value();
      char rest = 0;
      if (std::sscanf(step.c_str(), "%d%c", &args.step, &rest) != 1 || args.step < 1)
        fail("argument --step: expected a step number from 1, got '{}'", step);
      args.step_given = true;
    }
    else if (flag == "--ui-scale") {
      const std::string scale = value();
      char rest = 0;
      if (scale == "auto")
        args.ui_scale = -1.0f;  // WindowOptions::ui_scale's "follow the monitor, screenshots too"
      else if (std::sscanf(scale.c_str(), "%f%c", &args.ui_scale, &rest) != 1 ||
               !(args.ui_scale >= 0.5f && args.ui_scale <= 4.0f))
        fail("argument --ui-scale: expected a number from 0.5 to 4 or 'auto', got '{}'", scale);
    } else if (flag == "--size") {
      const std::string size = value();
      if (std::sscanf(size.c_str(), "%dx%d", &args.width, &args.height) != 2 || args.width < 320 || args.height < 240)
        fail("argument --size: expected WxH of at least 320x240, got '{}'", size);
    } else fail("unknown argument '{}'", flag);
  }
  if (args.step_given && !args.present) fail("argument --step needs --present");
  if (!args.keys.empty() && args.screenshot.empty()) fail("argument --keys needs --screenshot");
  return args;
}

std::string imgui_ini_path() {
  const char* config = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  const std::filesystem::path dir = config && *config ? std::filesystem::path(config) / "dmascope"
                                    : home            ? std::filesystem::path(home) / ".config/dmascope"
                                                      : std::filesystem::path();
  if (dir.empty()) return {};
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  return error ? std::string() : (dir / "imgui.ini").string();
}

void write_layout_json(const std::string& path, const AppState& state, const RgbaImage& image) {
  const FrameLayout& layout = state.layout;
  nlohmann::json document = {
      {"image", {{"width", image.width}, {"height", image.height}}},
      {"heatmap", {{"drawn", layout.heatmap_drawn}, {"x", layout.heatmap_x}, {"y", layout.heatmap_y},
                   {"side", layout.heatmap_side}}},
      {"tiles", {{"drawn", layout.tiles_drawn}, {"x", layout.tiles_x}, {"y", layout.tiles_y},
                 {"side", layout.tiles_side}}},
      {"window", {{"row_begin", layout.window.row_begin}, {"row_end", layout.window.row_end},
                  {"col_begin", layout.window.col_begin}, {"col_end", layout.window.col_end}}},
      {"length", layout.length}, {"layer", layout.layer}, {"head", layout.head}, {"bias_head", layout.bias_head},
      {"font_pixels", layout.font_pixels}};
  const PresenterState& presenter = state.presenter;
  const bool presenting = presenter.active && presenter.tour;
  document["presenter"] = {
      {"active", presenting}, {"step", presenting ? presenter.step + 1 : 0},
      {"steps", presenting ? presenter.tour->steps.size() : 0},
      {"title", presenting ? presenter.tour->steps[presenter.step].title : ""},
      {"caption", presenting ? presenter.tour->steps[presenter.step].caption : ""},
      {"caption_bar", {{"drawn", presenter.caption_drawn}, {"x", presenter.caption_rect.x},
                       {"y", presenter.caption_rect.y}, {"width", presenter.caption_rect.z},
                       {"height", presenter.caption_rect.w}}}};
  // What a tour caption may quote, and whether it was drawn whole; the regions a step can highlight.
  nlohmann::json texts = nlohmann::json::array();
  for (const ShownText& text : layout.texts)
    texts.push_back({{"text", text.text}, {"rect", {text.rect.x, text.rect.y, text.rect.z, text.rect.w}},
                     {"visible", text.visible}});
  document["texts"] = texts;
  nlohmann::json regions = nlohmann::json::object();
  for (const auto& [region, rects] : layout.regions) {
    nlohmann::json list = nlohmann::json::array();
    for (const ImVec4& rect : rects) list.push_back({rect.x, rect.y, rect.z, rect.w});
    regions[std::string(tour_highlight_name(region))] = list;
  }
  document["regions"] = regions;
  document["presenter"]["highlight"] =
      presenting ? std::string(tour_highlight_name(presenter.tour->steps[presenter.step].highlight)) : "none";
  document["about"] = {{"drawn", state.about.drawn}, {"recall_rows", state.about.recall_rows_drawn},
                       {"models", state.about.models.size()}};
  write_file_atomically(path, document.dump(2) + "\n");
}

// --measure: the FrameBenchmark drives the view and the settings; frames run back to back (no waiting for events).
template <class Window>
int measure_loop(Window& window, App& app, const Arguments& args, const std::string& renderer) {
  const auto start = std::chrono::steady_clock::now();
  FrameBenchmark benchmark;
  for (;;) {
    if constexpr (std::is_same_v<Window, GlWindow>) window.wait_events(0.0);
    benchmark.before_frame(app.state());
    if (const std::string error = app.pipeline_error(); !error.empty())
      fail("--measure: the computation failed: {}", error);
    if (std::chrono::steady_clock::now() - start > std::chrono::duration<double>(kScreenshotTimeoutSeconds))
      fail("--measure: not done within {:.0f} s", kScreenshotTimeoutSeconds);
    window.begin_frame();
    app.frame(std::vector<KeyPress>{});
    window.end_frame();
    if (benchmark.done()) {
      if (!args.screenshot.empty()) write_png(args.screenshot, window.read_back_buffer());
      const char* device = std::getenv("DMASCOPE_MEASURE_DEVICE");
      std::string label = device ? device : "";
      if (!renderer.empty()) label += (label.empty() ? "" : ", ") + std::string("GL renderer: ") + renderer;
      write_file_atomically(args.measure, benchmark.report_json(app.state(), label));
      fmt::print("dmascope: wrote {}\n", args.measure);
      return 0;
    }
    window.present();
  }
}

int run_headless(const Arguments& args, AppOptions options) {
  if (args.measure.empty()) fail("--headless needs --measure (an offscreen run has nobody to look at it)");
  HeadlessWindow window(args.width, args.height);
  App app(options);
  return measure_loop(window, app, args, window.renderer());
}

int run(const Arguments& args) {
  AppOptions options;
  options.default_model = bundled_default_model();
  const bool measure = !args.measure.empty();
  // First launch shows a model trained with DMA on a sequence of its task (a random model's mask shows little);
  // --measure keeps the default settings it always measured, and $DMASCOPE_DEFAULT_MODEL keeps its meaning.
  const char* default_override = std::getenv("DMASCOPE_DEFAULT_MODEL");
  if (args.session.empty() && args.model.empty() && !measure && !(default_override && *default_override))
    options.session = first_launch_session(options.default_model);
  if (!args.session.empty()) options.session = load_session(args.session);
  if (!args.model.empty()) options.session.settings.model_dir = args.model;
  if (args.present) {
    const Tour tour = load_tour(args.tour.empty() ? bundled_tour() : std::filesystem::path(args.tour));
    if (static_cast<std::size_t>(args.step) > tour.steps.size())
      fail("argument --step: {} has {} steps, asked for step {}", tour.file.string(), tour.steps.size(), args.step);
    options.tour = tour;
    options.tour_step = static_cast<std::size_t>(args.step - 1);
  }
  options.show_about = args.about;
  const bool screenshot = !args.screenshot.empty() && !measure;
  options.deterministic = screenshot;
  // Only a run someone uses writes the user's files (the recent list, imgui.ini): not one that renders a screenshot
  // or measures and exits, with or without --present.
  options.interactive = args.screenshot.empty() && !measure && !args.headless;
  if (args.headless) return run_headless(args, options);

  WindowOptions window_options;
  window_options.width = args.width;
  window_options.height = args.height;
  window_options.deterministic = screenshot || measure;  // measure: fixed size, no imgui.ini, vsync off
  window_options.ui_scale = args.ui_scale;
  if (options.interactive) window_options.ini_path = imgui_ini_path();
  GlWindow window(window_options);
  App app(options);

  const auto start = std::chrono::steady_clock::now();
  if (measure) return measure_loop(window, app, args, "");
  int settled_frames = 0;
  std::size_t next_key = 0;
  FullscreenSwitch fullscreen;  // presenter mode is full screen, except in screenshots (their size is fixed)
  while (!window.should_close()) {
    // Asleep until input or the worker's wake-up; a short tick while computing keeps the progress bar moving.
    // (Screenshots sleep briefly too, so that the UI thread leaves the cores to the worker.)
    window.wait_events(app.settled() ? (screenshot ? 0.0 : 0.5) : (screenshot ? 0.01 : 0.05));
    window.begin_frame();
    std::vector<KeyPress> presses = window.take_key_presses();
    if (screenshot) presses.clear();  // a screenshot shows the session and the --keys, not stray input
    // --keys: the next key once the app has been idle a few frames (a step or a layer change recomputes first).
    if (screenshot && next_key < args.keys.size() && settled_frames > kSettledFramesBeforeCapture) {
      presses.push_back(args.keys[next_key++]);
      settled_frames = 0;
    }
    app.frame(std::move(presses));
    if (app.quit_requested()) window.request_close();
    if (!screenshot) fullscreen.follow(window.handle(), app.state().presenter.active);
    window.end_frame();
    if (auto request = app.take_png_request()) {
      RgbaImage image = window.read_back_buffer();
      export_file_action(app.state(), "PNG", request->name, [&](const std::filesystem::path& path) {
        write_png(path, request->crop ? crop_image(image, *request->crop) : image);
      });
    }
    if (screenshot) {
      settled_frames = app.settled() ? settled_frames + 1 : 0;
      if (settled_frames > kSettledFramesBeforeCapture && next_key == args.keys.size()) {
        const RgbaImage image = window.read_back_buffer();
        write_png(args.screenshot, image);
        if (!args.layout_json.empty()) write_layout_json(args.layout_json, app.state(), image);
        if (!args.save_session.empty()) save_session(args.save_session, app.session());
        if (const std::string error = app.pipeline_error(); !error.empty()) {
          fmt::print(stderr, "dmascope: the computation failed: {}\n(screenshot written to {})\n", error,
                     args.screenshot);
          return 1;
        }
        fmt::print("dmascope: wrote {}\n", args.screenshot);
        return 0;
      }
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > kScreenshotTimeoutSeconds)
        fail("--screenshot: the computation did not finish within {:.0f} s", kScreenshotTimeoutSeconds);
    }
    window.present();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> list(argv + 1, argv + argc);
  if (!list.empty() && (list[0] == "--help" || list[0] == "-h")) {
    fmt::print("{}", kUsage);
    return 0;
  }
  Arguments arguments;
  try {
    arguments = parse_arguments(argc, argv);
  } catch (const Error& error) {
    fmt::print(stderr, "dmascope: {}\n\n{}", error.what(), kUsage);
    return kExitUsage;
  }
  try {
    return run(arguments);
  } catch (const NoDisplayError& error) {
    fmt::print(stderr,
               "dmascope: cannot open a window: {}.\n"
               "dmascope is a desktop app and needs a display. Headless, render a screenshot instead:\n"
               "  xvfb-run -a dmascope --screenshot out.png\n",
               error.what());
    return kExitNoDisplay;
  } catch (const Error& error) {
    fmt::print(stderr, "dmascope: error: {}\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    fmt::print(stderr, "dmascope: unexpected error: {}\n", error.what());
    return 1;
  }
}
