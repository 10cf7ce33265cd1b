// dmascope: the desktop app. Interactive by default; with --screenshot it renders the first-launch view (or the
// session's), waits until the computation has finished, writes the window as a PNG and exits.
#include <fmt/core.h>

#include <GLFW/glfw3.h>

#include <atomic>
#include <cctype>
#include <csignal>
#include <ctime>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/common/command_line.h"
#include "app/gui/app.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/session/bundled_assets.h"
#include "app/gui/platform/fullscreen_switch.h"
#include "app/gui/platform/frame_benchmark.h"
#include "app/gui/platform/headless_window.h"
#include "app/gui/platform/gl_window.h"
#include "engine/session/model_discovery.h"
#include "app/gui/panels/lab_views.h"
#include "app/gui/panels/panels.h"
#include "app/gui/platform/png_export.h"
#include "engine/session/tour_file.h"
#include "core/formats/atomic_write.h"
#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"

namespace {

// SIGINT or SIGTERM (Ctrl+C in the terminal, a session logging out) ends an interactive run like closing the window:
// the loop sees the flag within one wait, the layout is saved and the worker stopped. A second signal a second or
// more after the first ends the process at once; one sooner is the same stop sent twice (timeout(1) and process
// managers signal the process and then its group) and is ignored.
std::atomic<bool> stop_signal_received{false};
std::atomic<long long> first_stop_signal_ns{0};
long long monotonic_ns() {  // clock_gettime is async-signal-safe
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec;
}
extern "C" void on_stop_signal(int signal_number) {
  const long long now = monotonic_ns();
  long long first = 0;
  if (first_stop_signal_ns.compare_exchange_strong(first, now)) {
    stop_signal_received.store(true);
  } else if (now - first >= 1'000'000'000LL) {
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
  }
}

using namespace dmascope;
using namespace dmascope::gui;

constexpr const char* kFooter = R"(
Without --session and --model the app opens the bundled trained toy model (assets/models/doge-toy-mix) on an MQAR
example, answers scored. --present's default tour is assets/tours/dma-intro.json; in presenter mode the arrow keys,
Space, PgUp and PgDn step, Esc leaves, F11 toggles full screen. --keys names: right, left, up, down, space, pageup,
pagedown, home, end, escape, f1, f2, f3, f5, f11, a letter or digit, [ ] + -, and ctrl+KEY. --measure times frames while
panning and zooming and the recompute after window-slider moves (app/gui/platform/frame_benchmark.h says what).

Keys: F1 in the app lists the shortcuts. Without a display, run headless with: xvfb-run -a dmascope --screenshot out.png
Exit codes: 0 done, 1 an error (the message says which file), 2 bad usage (the message names the argument), 3 no
display.)";

constexpr int kExitNoDisplay = 3;
constexpr double kScreenshotTimeoutSeconds = 600.0;
constexpr int kSettledFramesBeforeCapture = 3;  // let auto-sized windows and layouts settle

struct Arguments {
  std::string session, model, screenshot, save_session, layout_json, measure;
  std::vector<KeyPress> keys;  // --keys: pressed before the screenshot
  bool headless = false, present = false, about = false, lab = false;
  std::int64_t beta_key = -1;
  std::string lab_tab;  // --lab-tab
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
      {"f2", GLFW_KEY_F2},       {"f3", GLFW_KEY_F3},             {"f5", GLFW_KEY_F5},     {"f11", GLFW_KEY_F11},
      {"[", GLFW_KEY_LEFT_BRACKET},
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
    if (press.key == 0) command_line::usage_fail("--keys: unknown key '{}'", item);
    keys.push_back(press);
  }
  if (keys.empty()) command_line::usage_fail("--keys: no keys given");
  return keys;
}

// --size: "WxH", both decimal, at least 320x240 (smaller cannot lay the panels out).
std::string size_problem(const std::string& text, int& width, int& height) {
  const auto x = text.find('x');
  std::int64_t w = 0, h = 0;
  if (x == std::string::npos || !command_line::parse_int64(text.substr(0, x), w) ||
      !command_line::parse_int64(text.substr(x + 1), h) || w < 320 || h < 240 || w > 16384 || h > 16384)
    return fmt::format("expected WxH from 320x240 to 16384x16384, got '{}'", text);
  width = static_cast<int>(w);
  height = static_cast<int>(h);
  return {};
}

// --ui-scale: a number from 0.5 to 4, or "auto" (→ -1, WindowOptions::ui_scale's "follow the monitor, screenshots
// too").
std::string ui_scale_problem(const std::string& text, float& scale) {
  if (text == "auto") {
    scale = -1.0f;
    return {};
  }
  char rest = 0;
  if (std::sscanf(text.c_str(), "%f%c", &scale, &rest) != 1 || !(scale >= 0.5f && scale <= 4.0f))
    return fmt::format("expected a number from 0.5 to 4 or 'auto', got '{}'", text);
  return {};
}

// The app's options, declared on `cli` and bound to `args` (and to the texts parsed after the parse).
struct OptionTexts {
  std::string keys, size, ui_scale;
  std::int64_t step = 1;
  CLI::Option* present = nullptr;
  CLI::Option* step_option = nullptr;
};

void declare_options(CLI::App& cli, Arguments& args, OptionTexts& texts) {
  cli.add_option("--session", args.session, "open a saved session (settings and view)");
  cli.add_option("--model", args.model, "a Doge model folder (config.json + safetensors) to open");
  texts.present = cli.add_option("--present", args.tour, "presenter mode: full screen, large fonts, a tour of sessions "
                                                         "with captions (TOUR: a tour file; default the bundled tour)")
                      ->expected(0, 1)
                      ->type_name("[TOUR]");
  texts.step_option = cli.add_option("--step", texts.step, "with --present: start at step K (1-based); with "
                                                           "--screenshot, render that step")
                          ->type_name("K")
                          ->transform(command_line::integer_in(1, 1000000));
  cli.add_flag("--about", args.about, "open the About / Tour window (bundled models, recall table)");
  cli.add_option("--beta-key", args.beta_key, "open the β pipeline window on key K (v → dt_proj → softplus → ×A → exp → β)")
      ->option_text("K")
      ->transform(command_line::integer_in(0, 1 << 30));  // the key must also exist: the window says when it does not
  cli.add_flag("--lab", args.lab, "open the Mask lab and run it on the first result (strategies against dense)");
  cli.add_option("--lab-tab", args.lab_tab, "with --lab: the lab view shown first")
      ->check(CLI::IsMember({"Table", "Overview", "Dropped mass", "A/B", "Budget curves", "DAM stages"}));
  cli.add_option("--screenshot", args.screenshot, "render the window once the computation has finished, write OUT "
                                                  "(PNG) and exit")
      ->type_name("OUT");
  cli.add_option("--size", texts.size, "window size (default 1600x1000)")
      ->type_name("WxH")
      ->check(CLI::Validator([](std::string& text) { int w = 0, h = 0; return size_problem(text, w, h); }, ""));
  cli.add_option("--ui-scale", texts.ui_scale, "fonts and widget sizes x S (0.5 to 4); default: the monitor's content "
                                               "scale (1 in screenshots); auto: the monitor's, in screenshots too")
      ->type_name("S")
      ->check(CLI::Validator([](std::string& text) { float scale = 0; return ui_scale_problem(text, scale); }, ""));
  cli.add_option("--save-session", args.save_session, "with --screenshot: also write the session that was rendered")
      ->type_name("FILE");
  cli.add_option("--layout-json", args.layout_json, "with --screenshot: also write where the heatmap and tile map "
                                                    "were drawn (for tests)")
      ->type_name("FILE");
  cli.add_option("--keys", texts.keys, "with --screenshot: press these keys first, one whenever the app is idle, then "
                                       "capture (names below)")
      ->type_name("K,K,...");
  cli.add_option("--measure", args.measure, "measure frame times and recompute times (vsync off), write OUT.json and "
                                            "exit; with --screenshot, also the last frame measured")
      ->type_name("OUT.json");
  cli.add_flag("--headless", args.headless,
               "with --measure: render offscreen on a GPU through EGL (no display needed)");
}

// What CLI11 cannot check by itself: the values parsed from text, and the options that need another.
void finish_arguments(Arguments& args, const OptionTexts& texts) {
  args.present = texts.present->count() > 0;
  args.step_given = texts.step_option->count() > 0;
  args.step = static_cast<int>(texts.step);
  if (!texts.keys.empty()) args.keys = parse_key_list(texts.keys);
  if (!texts.size.empty()) size_problem(texts.size, args.width, args.height);  // checked at parse time
  if (!texts.ui_scale.empty()) ui_scale_problem(texts.ui_scale, args.ui_scale);
  if (args.step_given && !args.present) command_line::usage_fail("--step needs --present");
  if (!args.keys.empty() && args.screenshot.empty()) command_line::usage_fail("--keys needs --screenshot");
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
  if (error) return {};
  // Read (a regular file under a cap only) and written atomically by the window: see GlWindow::save_layout.
  return (dir / "imgui.ini").string();
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
  document["beta_window"] = {{"drawn", state.beta_window.drawn}, {"key", state.beta_window.key}};
  document["about"] = {{"drawn", state.about.drawn}, {"recall_rows", state.about.recall_rows_drawn},
                       {"models", state.about.models.size()}};
  document["lab"] = lab_layout_json(state.lab);
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
  if (args.measure.empty())
    command_line::usage_fail("--headless needs --measure (an offscreen run has nobody to look at it)");
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
      command_line::usage_fail("--step: {} has {} steps, asked for step {}", tour.file.string(), tour.steps.size(),
                               args.step);
    options.tour = tour;
    options.tour_step = static_cast<std::size_t>(args.step - 1);
  }
  options.show_about = args.about;
  options.beta_key = args.beta_key;
  options.open_lab = args.lab;
  options.lab_tab = args.lab_tab;
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
  if (options.interactive) {
    window_options.ini_path = imgui_ini_path();
    for (int signal_number : {SIGINT, SIGTERM}) std::signal(signal_number, on_stop_signal);
  }
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
    if (app.quit_requested() || stop_signal_received.load()) window.request_close();
    if (!screenshot) fullscreen.follow(window.handle(), app.state().presenter.active);
    window.end_frame();
    if (app.layout_may_be_saved()) window.save_layout(true);
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
  if (app.layout_may_be_saved()) window.save_layout(false);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Parsed before any window exists: --help, --version and usage errors need no display.
  CLI::App cli("dmascope: see what Dynamic Mask Attention keeps, layer by layer and head by head", "dmascope");
  cli.set_version_flag("--version", "dmascope " DMASCOPE_VERSION);
  cli.footer(kFooter);
  Arguments arguments;
  OptionTexts texts;
  declare_options(cli, arguments, texts);
  if (auto exit_code = command_line::parse_command_line(cli, argc, argv)) return *exit_code;
  try {
    finish_arguments(arguments, texts);
  } catch (const Error& error) {
    fmt::print(stderr, "dmascope: {}\nRun 'dmascope --help' for the options.\n", printable_message(error.what()));
    return command_line::kExitUsage;
  }
  try {
    return run(arguments);
  } catch (const NoDisplayError& error) {
    fmt::print(stderr,
               "dmascope: cannot open a window: {}.\n"
               "dmascope is a desktop app and needs a display. Headless, render a screenshot instead:\n"
               "  xvfb-run -a dmascope --screenshot out.png\n",
               printable_message(error.what()));
    return kExitNoDisplay;
  } catch (const command_line::UsageError& error) {
    fmt::print(stderr, "dmascope: {}\nRun 'dmascope --help' for the options.\n", printable_message(error.what()));
    return command_line::kExitUsage;
  } catch (const Error& error) {
    fmt::print(stderr, "dmascope: error: {}\n", printable_message(error.what()));
    return 1;
  } catch (const std::exception& error) {
    fmt::print(stderr, "dmascope: unexpected error: {}\n", printable_message(error.what()));
    return 1;
  }
}
