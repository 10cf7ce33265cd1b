#include "app/gui/platform/headless_window.h"

#include <epoxy/egl.h>
#include <epoxy/gl.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <algorithm>
#include <cfloat>
#include <chrono>

#include "core/base/error.h"

namespace dmascope::gui {

struct HeadlessWindow::Egl {
  EGLDisplay display = EGL_NO_DISPLAY;
  EGLSurface surface = EGL_NO_SURFACE;
  EGLContext context = EGL_NO_CONTEXT;
};

namespace {

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The first EGL device that initialises (EGL_EXT_platform_device), else EGL's default display (NVIDIA's EGL gives a
// GPU display there when no X server runs).
EGLDisplay open_device_display() {
  const char* client_extensions = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
  const std::string extensions = client_extensions ? client_extensions : "";
  if (extensions.find("EGL_EXT_device_enumeration") != std::string::npos &&
      extensions.find("EGL_EXT_platform_device") != std::string::npos) {
    EGLDeviceEXT devices[16];
    EGLint count = 0;
    if (eglQueryDevicesEXT(16, devices, &count))
      for (EGLint n = 0; n < count; ++n) {
        EGLDisplay display = eglGetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT, devices[n], nullptr);
        EGLint major = 0, minor = 0;
        if (display != EGL_NO_DISPLAY && eglInitialize(display, &major, &minor)) return display;
      }
  }
  EGLDisplay display = eglGetDisplay(EGL_DEFAULT_DISPLAY);
  EGLint major = 0, minor = 0;
  if (display != EGL_NO_DISPLAY && eglInitialize(display, &major, &minor)) return display;
  fail("--headless: no EGL display could be initialised (EGL error 0x{:x}; EGL client extensions: '{}'): a GPU "
       "driver's EGL (e.g. NVIDIA's libEGL_nvidia through libglvnd) is needed",
       eglGetError(), extensions);
}

}  // namespace

HeadlessWindow::HeadlessWindow(int width, int height) : egl_(std::make_unique<Egl>()), width_(width), height_(height) {
  egl_->display = open_device_display();
  const EGLint config_attributes[] = {EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8,
                                      EGL_BLUE_SIZE, 8, EGL_ALPHA_SIZE, 8, EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT,
                                      EGL_NONE};
  EGLConfig config = nullptr;
  EGLint configs = 0;
  if (!eglChooseConfig(egl_->display, config_attributes, &config, 1, &configs) || configs == 0)
    fail("--headless: no RGBA8 pbuffer config for desktop OpenGL (EGL error 0x{:x})", eglGetError());
  const EGLint surface_attributes[] = {EGL_WIDTH, width, EGL_HEIGHT, height, EGL_NONE};
  egl_->surface = eglCreatePbufferSurface(egl_->display, config, surface_attributes);
  if (egl_->surface == EGL_NO_SURFACE) fail("--headless: cannot create a {}x{} pbuffer (EGL error 0x{:x})", width,
                                           height, eglGetError());
  if (!eglBindAPI(EGL_OPENGL_API)) fail("--headless: EGL cannot bind desktop OpenGL");
  const EGLint context_attributes[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 3,
                                       EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT, EGL_NONE};
  egl_->context = eglCreateContext(egl_->display, config, EGL_NO_CONTEXT, context_attributes);
  if (egl_->context == EGL_NO_CONTEXT) fail("--headless: no OpenGL 3.3 core context (EGL error 0x{:x})", eglGetError());
  if (!eglMakeCurrent(egl_->display, egl_->surface, egl_->surface, egl_->context))
    fail("--headless: cannot make the context current (EGL error 0x{:x})", eglGetError());
  eglSwapInterval(egl_->display, 0);
  renderer_ = reinterpret_cast<const char*>(glGetString(GL_RENDERER));

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  io.ConfigFlags |= ImGuiConfigFlags_NoMouse | ImGuiConfigFlags_NoMouseCursorChange;
  io.DisplaySize = ImVec2(static_cast<float>(width), static_cast<float>(height));
  ImGui::StyleColorsDark();
  load_fonts(1.0f);
  ImGui_ImplOpenGL3_Init("#version 330 core");
  last_frame_seconds_ = seconds_now();
}

HeadlessWindow::~HeadlessWindow() {
  ImGui_ImplOpenGL3_Shutdown();
  ImGui::DestroyContext();
  eglMakeCurrent(egl_->display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
  eglDestroyContext(egl_->display, egl_->context);
  eglDestroySurface(egl_->display, egl_->surface);
  eglTerminate(egl_->display);
}

void HeadlessWindow::begin_frame() {
  ImGui_ImplOpenGL3_NewFrame();
  ImGuiIO& io = ImGui::GetIO();
  const double now = seconds_now();
  io.DeltaTime = static_cast<float>(std::max(1e-4, now - last_frame_seconds_));
  last_frame_seconds_ = now;
  io.DisplaySize = ImVec2(static_cast<float>(width_), static_cast<float>(height_));
  io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
  ImGui::NewFrame();
}

void HeadlessWindow::end_frame() {
  ImGui::Render();
  glViewport(0, 0, width_, height_);
  glClearColor(0.09f, 0.09f, 0.11f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

void HeadlessWindow::present() {
  eglSwapBuffers(egl_->display, egl_->surface);  // no-op for a pbuffer, kept for the same call pattern
  glFinish();
}

RgbaImage HeadlessWindow::read_back_buffer() {
  RgbaImage image;
  image.width = width_;
  image.height = height_;
  const std::size_t row_bytes = static_cast<std::size_t>(width_) * 4;
  std::vector<std::uint8_t> bottom_up(row_bytes * static_cast<std::size_t>(height_));
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(0, 0, width_, height_, GL_RGBA, GL_UNSIGNED_BYTE, bottom_up.data());
  image.pixels.resize(bottom_up.size());
  for (int y = 0; y < height_; ++y)
    std::copy_n(bottom_up.begin() + static_cast<std::ptrdiff_t>((height_ - 1 - y) * row_bytes), row_bytes,
                image.pixels.begin() + static_cast<std::ptrdiff_t>(y * row_bytes));
  for (std::size_t p = 3; p < image.pixels.size(); p += 4) image.pixels[p] = 255;
  return image;
}

}  // namespace dmascope::gui
