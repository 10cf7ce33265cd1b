// The window, its OpenGL 3.3 core context and Dear ImGui on top (the GLFW and OpenGL3 back ends from Debian's
// libimgui-dev): opening with a clear error when there is no display, hi-DPI scale from the monitor's content scale,
// fonts, imgui.ini persistence, frame begin/end and reading back the rendered image.
#pragma once

#include "app/gui/engine_vocabulary.h"
#include "engine/export/rgba_image.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct GLFWwindow;

namespace dmascope::gui {

// Thrown when no window can be opened (no X11/Wayland display): the caller says how to run headless.
struct NoDisplayError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct WindowOptions {
  int width = 1600, height = 1000;   // in screen coordinates, before the content scale
  bool deterministic = false;        // screenshots: scale 1, fixed size, no imgui.ini, no mouse
  std::string ini_path;              // imgui.ini location (empty: none)
  // --ui-scale: fonts and sizes × this when > 0; 0: follow the monitor, but 1 in screenshots; < 0 ("auto"): follow
  // the monitor even in screenshots (to test the content-scale path).
  float ui_scale = 0.0f;
};

// The UI scale for a window: `override_scale` when > 0, else the monitor's content scale (the DPI setting: Xft.dpi on
// X11, the output scale on Wayland) divided by the framebuffer-to-window ratio (where the compositor already
// scales the framebuffer, as Wayland and macOS do, ImGui's DisplayFramebufferScale covers that part), at least 1.
float ui_scale_for(float override_scale, float content_scale, float framebuffer_ratio);

// A key press (or auto-repeat) seen by GLFW. Kept in a queue because a quick tap can be pressed and released within
// one wait for events, which ImGui 1.86's key-down state would miss.
struct KeyPress {
  int key = 0;  // GLFW_KEY_*
  bool ctrl = false;
};


// The app's fonts at a UI scale, into the current ImGui context (GlWindow and HeadlessWindow both call it): the UI
// font, then the presenter mode's large one, kPresenterFontScale times its size.
inline constexpr float kPresenterFontScale = 1.75f;
void load_fonts(float scale);

class GlWindow {
 public:
  explicit GlWindow(const WindowOptions& options);  // throws NoDisplayError or dmascope::Error
  ~GlWindow();
  GlWindow(const GlWindow&) = delete;
  GlWindow& operator=(const GlWindow&) = delete;

  bool should_close() const;
  void request_close();
  void wait_events(double timeout_seconds);  // sleeps until input, a post_empty_event() or the timeout
  static void post_empty_event();            // thread-safe: wakes wait_events()

  void begin_frame();
  void end_frame();               // renders ImGui's draw data into the back buffer (no swap)
  RgbaImage read_back_buffer();   // what end_frame() drew
  void present();                 // swaps
  // Writes the layout to imgui.ini atomically: with only_if_changed, when ImGui asks (it marks a changed layout a
  // few seconds after the change); otherwise always (at exit). Nothing without an ini_path.
  void save_layout(bool only_if_changed);
  static constexpr std::uint64_t kMaxLayoutBytes = 1 << 20;  // a few dozen windows' positions; more is not ours

  std::vector<KeyPress> take_key_presses();  // since the last call
  float ui_scale() const { return ui_scale_; }
  GLFWwindow* handle() const { return window_; }

 private:
  void load_layout();
  static void on_key(GLFWwindow* window, int key, int scancode, int action, int mods);
  static void on_content_scale(GLFWwindow* window, float x_scale, float y_scale);
  void apply_ui_scale();  // fonts (rebuilt at the new size, so text stays sharp) and style sizes

  GLFWwindow* window_ = nullptr;
  std::vector<KeyPress> key_presses_;
  float ui_scale_ = 1.0f;
  bool deterministic_ = false;
  float override_scale_ = 0.0f;       // WindowOptions::ui_scale
  bool scale_changed_ = false;        // the window moved to a monitor of another content scale
  std::string ini_path_;
};

}  // namespace dmascope::gui
