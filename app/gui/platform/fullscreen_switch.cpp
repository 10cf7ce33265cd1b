#include "app/gui/platform/fullscreen_switch.h"

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

namespace dmascope::gui {

void FullscreenSwitch::follow(GLFWwindow* window, bool full_screen) {
  if (full_screen == full_screen_) return;
  full_screen_ = full_screen;
  if (full_screen) {
    GLFWmonitor* monitor = glfwGetPrimaryMonitor();
    const GLFWvidmode* mode = monitor ? glfwGetVideoMode(monitor) : nullptr;
    if (!mode) {
      width_ = height_ = 0;  // nothing to go back to
      return;
    }
    glfwGetWindowPos(window, &x_, &y_);
    glfwGetWindowSize(window, &width_, &height_);
    glfwSetWindowMonitor(window, monitor, 0, 0, mode->width, mode->height, mode->refreshRate);
  } else if (width_ > 0 && height_ > 0) {
    glfwSetWindowMonitor(window, nullptr, x_, y_, width_, height_, GLFW_DONT_CARE);
  }
}

}  // namespace dmascope::gui
