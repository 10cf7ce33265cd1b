// An offscreen OpenGL 3.3 core context on a GPU through EGL's device platform (EGL_EXT_platform_device): no X11, no
// Wayland. For `dmascope --measure --headless`, on machines such as the GPU box that have a GPU but no display: the
// app draws exactly what it draws in a window (same panels, same ImGui OpenGL3 back end) into a pbuffer of a fixed
// size; there is no mouse and no keyboard, and present() waits for the GPU (glFinish) the way a swap would, so that
// frame times include the rendering. The interface is the part of GlWindow's that main.cpp's measure loop uses.
#pragma once

#include <memory>

#include "app/gui/platform/gl_window.h"

namespace dmascope::gui {

class HeadlessWindow {
 public:
  HeadlessWindow(int width, int height);  // throws dmascope::Error naming what EGL refused
  ~HeadlessWindow();
  HeadlessWindow(const HeadlessWindow&) = delete;
  HeadlessWindow& operator=(const HeadlessWindow&) = delete;

  void begin_frame();
  void end_frame();
  void present();
  RgbaImage read_back_buffer();
  const std::string& renderer() const { return renderer_; }  // GL_RENDERER, e.g. "NVIDIA H100 80GB HBM3/PCIe/SSE2"

 private:
  struct Egl;
  std::unique_ptr<Egl> egl_;
  int width_, height_;
  double last_frame_seconds_ = 0;
  std::string renderer_;
};

}  // namespace dmascope::gui
