#include "app/gui/platform/gl_window.h"

#include <epoxy/gl.h>
// epoxy provides the GL declarations; GLFW must not include its own GL header after it.
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <fmt/core.h>

#include <algorithm>
#include <cfloat>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"
#include "core/formats/atomic_write.h"

namespace dmascope::gui {

namespace {

std::string last_glfw_error() {
  const char* description = nullptr;
  glfwGetError(&description);
  return description ? description : "no description";
}

constexpr float kBaseFontPixels = 15.0f;

}  // namespace

// DejaVu Sans (Debian's fonts-dejavu-core) covers the token display marks (␣ ↵ ⇥), β and the arrows; without it the
// built-in font is used and those show as '?'.
void load_fonts(float scale) {
  ImGuiIO& io = ImGui::GetIO();
  const char* candidates[] = {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                              "/usr/share/fonts/TTF/DejaVuSans.ttf"};
  static ImVector<ImWchar> ranges;  // must outlive the atlas build
  if (ranges.empty()) {
    ImFontGlyphRangesBuilder builder;
    builder.AddRanges(io.Fonts->GetGlyphRangesDefault());
    builder.AddText("␣↵⇥βΣ×·…≤≥→←↑↓▸▾–—✓√−∞○✕ΔλτμγĀ\uFFFD");  // ○ ✕: the answer rings; U+FFFD: bytes not UTF-8
    // alone; Δλτμγ Ā: the Mask lab's differences and DAM's settings and maps
    builder.BuildRanges(&ranges);
  }
  // Fonts[0] is the UI's; Fonts[1] the presenter mode's, rasterised at its size rather than scaled up (sharp text).
  for (const char* path : candidates)
    if (std::filesystem::exists(path)) {
      for (const float size : {kBaseFontPixels * scale, kBaseFontPixels * scale * kPresenterFontScale})
        io.Fonts->AddFontFromFileTTF(path, size, nullptr, ranges.Data);
      return;
    }
  for (const float size : {13.0f * scale, 13.0f * scale * kPresenterFontScale}) {
    ImFontConfig config;
    config.SizePixels = size;
    io.Fonts->AddFontDefault(&config);
  }
}

float ui_scale_for(float override_scale, float content_scale, float framebuffer_ratio) {
  if (override_scale > 0.0f) return override_scale;
  const float ratio = framebuffer_ratio > 0.0f ? framebuffer_ratio : 1.0f;
  return std::max(1.0f, content_scale / ratio);
}

namespace {

float content_scale_of(GLFWwindow* window) {
  float x_scale = 1.0f, y_scale = 1.0f;
  glfwGetWindowContentScale(window, &x_scale, &y_scale);
  return std::max(x_scale, y_scale);
}

float framebuffer_ratio_of(GLFWwindow* window) {
  int window_width = 0, window_height = 0, framebuffer_width = 0, framebuffer_height = 0;
  glfwGetWindowSize(window, &window_width, &window_height);
  glfwGetFramebufferSize(window, &framebuffer_width, &framebuffer_height);
  return window_width > 0 ? static_cast<float>(framebuffer_width) / static_cast<float>(window_width) : 1.0f;
}

}  // namespace

GlWindow::GlWindow(const WindowOptions& options)
    : deterministic_(options.deterministic), override_scale_(options.ui_scale), ini_path_(options.ini_path) {
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((!display || !*display) && (!wayland || !*wayland))
    throw NoDisplayError("no display: neither DISPLAY nor WAYLAND_DISPLAY is set");
  if (!glfwInit()) throw NoDisplayError("cannot open the display " + std::string(display ? display : "") + ": " +
                                        last_glfw_error());
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  glfwWindowHint(GLFW_SCALE_TO_MONITOR, options.deterministic ? GLFW_FALSE : GLFW_TRUE);
  if (options.deterministic) glfwWindowHint(GLFW_RESIZABLE, GLFW_FALSE);
  window_ = glfwCreateWindow(options.width, options.height, "dmascope", nullptr, nullptr);
  if (!window_) {
    const std::string reason = last_glfw_error();
    glfwTerminate();
    fail("cannot create an OpenGL 3.3 core window: {}", reason);
  }
  glfwMakeContextCurrent(window_);
  glfwSwapInterval(options.deterministic ? 0 : 1);

  // Screenshots are drawn at scale 1 whatever the display says, unless --ui-scale asks for another.
  ui_scale_ = options.deterministic && override_scale_ == 0.0f
                  ? 1.0f
                  : ui_scale_for(override_scale_, content_scale_of(window_), framebuffer_ratio_of(window_));
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  // ImGui never touches imgui.ini itself (it would rewrite it in place, and a crash mid-write loses the layout): the
  // layout is read here and written atomically by save_layout().
  io.IniFilename = nullptr;
  if (!ini_path_.empty()) load_layout();
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
  if (options.deterministic) io.ConfigFlags |= ImGuiConfigFlags_NoMouse | ImGuiConfigFlags_NoMouseCursorChange;
  apply_ui_scale();
  // Installed before ImGui's back end, which chains to it.
  glfwSetWindowUserPointer(window_, this);
  glfwSetKeyCallback(window_, &GlWindow::on_key);
  if (override_scale_ < 0.0f || (!options.deterministic && override_scale_ == 0.0f))
    glfwSetWindowContentScaleCallback(window_, &GlWindow::on_content_scale);
  ImGui_ImplGlfw_InitForOpenGL(window_, true);
  ImGui_ImplOpenGL3_Init("#version 330 core");
}

GlWindow::~GlWindow() {
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window_);
  glfwTerminate();
}

void GlWindow::on_key(GLFWwindow* window, int key, int, int action, int mods) {
  if (action != GLFW_PRESS && action != GLFW_REPEAT) return;
  auto* self = static_cast<GlWindow*>(glfwGetWindowUserPointer(window));
  if (self) self->key_presses_.push_back({key, (mods & GLFW_MOD_CONTROL) != 0});
}

void GlWindow::on_content_scale(GLFWwindow* window, float, float) {
  auto* self = static_cast<GlWindow*>(glfwGetWindowUserPointer(window));
  if (self) self->scale_changed_ = true;  // applied between frames (the font atlas must not change within one)
}

// A fresh style scaled from the defaults (ScaleAllSizes twice would compound), and the fonts rasterised at the scale.
void GlWindow::apply_ui_scale() {
  ImGuiStyle style;
  ImGui::StyleColorsDark(&style);
  style.WindowRounding = 2.0f;
  style.FrameRounding = 2.0f;
  style.ScaleAllSizes(ui_scale_);
  ImGui::GetStyle() = style;
  ImGui::GetIO().Fonts->Clear();
  load_fonts(ui_scale_);
}

std::vector<KeyPress> GlWindow::take_key_presses() {
  std::vector<KeyPress> presses;
  presses.swap(key_presses_);
  return presses;
}

bool GlWindow::should_close() const { return glfwWindowShouldClose(window_); }
void GlWindow::request_close() { glfwSetWindowShouldClose(window_, GLFW_TRUE); }
void GlWindow::wait_events(double timeout_seconds) {
  if (timeout_seconds <= 0) glfwPollEvents();
  else glfwWaitEventsTimeout(timeout_seconds);
}
void GlWindow::post_empty_event() { glfwPostEmptyEvent(); }

void GlWindow::begin_frame() {
  if (scale_changed_) {
    scale_changed_ = false;
    const float scale = ui_scale_for(override_scale_, content_scale_of(window_), framebuffer_ratio_of(window_));
    if (scale != ui_scale_) {
      ui_scale_ = scale;
      apply_ui_scale();
      ImGui_ImplOpenGL3_DestroyFontsTexture();  // 1.86's NewFrame() only builds missing shaders: upload it here
      ImGui_ImplOpenGL3_CreateFontsTexture();
    }
  }
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  if (deterministic_) {
    ImGuiIO& io = ImGui::GetIO();
    io.DeltaTime = 1.0f / 60.0f;  // no wall-clock dependence in what is drawn
    io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
  }
  ImGui::NewFrame();
}

void GlWindow::end_frame() {
  ImGui::Render();
  int width = 0, height = 0;
  glfwGetFramebufferSize(window_, &width, &height);
  glViewport(0, 0, width, height);
  glClearColor(0.09f, 0.09f, 0.11f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

RgbaImage GlWindow::read_back_buffer() {
  RgbaImage image;
  glfwGetFramebufferSize(window_, &image.width, &image.height);
  const std::size_t row_bytes = static_cast<std::size_t>(image.width) * 4;
  std::vector<std::uint8_t> bottom_up(row_bytes * static_cast<std::size_t>(image.height));
  glReadBuffer(GL_BACK);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(0, 0, image.width, image.height, GL_RGBA, GL_UNSIGNED_BYTE, bottom_up.data());
  image.pixels.resize(bottom_up.size());
  for (int y = 0; y < image.height; ++y)  // GL rows start at the bottom
    std::copy_n(bottom_up.begin() + static_cast<std::ptrdiff_t>((image.height - 1 - y) * row_bytes), row_bytes,
                image.pixels.begin() + static_cast<std::ptrdiff_t>(y * row_bytes));
  for (std::size_t p = 3; p < image.pixels.size(); p += 4) image.pixels[p] = 255;  // an opaque picture
  return image;
}

void GlWindow::present() { glfwSwapBuffers(window_); }

void GlWindow::load_layout() {
  std::error_code error;
  if (!std::filesystem::exists(ini_path_, error)) return;
  try {
    const std::string text = read_regular_file(ini_path_, "the window layout (imgui.ini)", kMaxLayoutBytes);
    ImGui::LoadIniSettingsFromMemory(text.data(), text.size());
  } catch (const std::exception& problem) {
    fmt::print(stderr, "warning: {}; the window layout is not read or saved\n", printable_message(problem.what()));
    ini_path_.clear();
  }
}

void GlWindow::save_layout(bool only_if_changed) {
  ImGuiIO& io = ImGui::GetIO();
  if (ini_path_.empty() || (only_if_changed && !io.WantSaveIniSettings)) return;
  io.WantSaveIniSettings = false;
  std::size_t size = 0;
  const char* text = ImGui::SaveIniSettingsToMemory(&size);
  try {
    write_file_atomically(ini_path_, std::string_view(text, size));
  } catch (const std::exception& problem) {  // said once; the session goes on without saving the layout
    fmt::print(stderr, "warning: {}; the window layout is not saved\n", printable_message(problem.what()));
    ini_path_.clear();
  }
}

}  // namespace dmascope::gui
