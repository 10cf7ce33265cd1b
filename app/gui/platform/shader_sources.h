// The GLSL of shaders/*.{vert,frag}, embedded at configure time (app/CMakeLists.txt) so that the binary needs no
// shader files at run time.
#pragma once

namespace dmascope::gui {

extern const char* const kGridVertexShader;
extern const char* const kGridFragmentShader;

}  // namespace dmascope::gui
