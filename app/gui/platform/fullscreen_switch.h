// Full screen for presenter mode: moves a GLFW window onto its monitor's video mode and back to the windowed
// rectangle it had before. Under Xvfb or a window manager that refuses, the window simply stays as it is.
#pragma once

struct GLFWwindow;

namespace dmascope::gui {

class FullscreenSwitch {
 public:
  void follow(GLFWwindow* window, bool full_screen);  // call once per frame; acts only when `full_screen` changes

 private:
  bool full_screen_ = false;
  int x_ = 0, y_ = 0, width_ = 0, height_ = 0;  // the windowed rectangle to go back to
};

}  // namespace dmascope::gui
