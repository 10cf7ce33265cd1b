// Draws view-sized grids of values (core/view/view_reduce.h) as ONE textured quad each, coloured in the fragment shader
// through a 256-entry lookup table (shaders/grid.frag): the heatmaps, the tile map, the β strip, the thumbnails and
// the colour bar. The quad is drawn from an ImGui draw callback, so it sits in the window's draw order and clipping.
// Plain texture uploads only (CUDA–GL interop is not available on Mesa/Xvfb).
#pragma once

#include <imgui.h>

#include <cstdint>
#include <deque>
#include <vector>

#include "app/gui/render/colormaps.h"
#include "app/gui/engine_vocabulary.h"
#include "engine/session/view_state.h"

namespace dmascope::gui {

// One grid of values in an R32F texture; upload() replaces it.
class GridTexture {
 public:
  GridTexture() = default;
  ~GridTexture();
  GridTexture(const GridTexture&) = delete;
  GridTexture& operator=(const GridTexture&) = delete;
  void upload(const std::vector<float>& values, std::int64_t width, std::int64_t height);
  bool empty() const { return texture_ == 0; }
  std::int64_t width() const { return width_; }
  std::int64_t height() const { return height_; }
  unsigned int id() const { return texture_; }

 private:
  unsigned int texture_ = 0;
  std::int64_t width_ = 0, height_ = 0;
};

enum class GridMapping { Linear, Log, Categorical };

struct GridStyle {
  const ColormapTable* table = nullptr;  // colormap_table(...) or tile_status_table()
  GridMapping mapping = GridMapping::Linear;
  float low = 0.0f, high = 1.0f;  // Linear: values at entries 0 and 255; Log: the values (not their logs)
  bool overlay = false;  // blended over what is below: values ≤ 0 transparent, opacity √(entry / 255)
};

class GridRenderer {
 public:
  GridRenderer();  // compiles the program; throws Error with the GLSL log if it fails
  ~GridRenderer();
  GridRenderer(const GridRenderer&) = delete;
  GridRenderer& operator=(const GridRenderer&) = delete;

  void begin_frame();  // forgets the previous frame's draw records
  // Adds the grid to `draw_list` over [top_left, top_left + size) in ImGui coordinates.
  void draw(ImDrawList* draw_list, const GridTexture& texture, ImVec2 top_left, ImVec2 size, const GridStyle& style);

 private:
  struct DrawRecord;
  static void render_callback(const ImDrawList* draw_list, const ImDrawCmd* command);
  unsigned int lookup_texture(const ColormapTable* table);

  unsigned int program_ = 0, empty_vao_ = 0;
  int u_rect_ndc_ = -1, u_origin_ = -1, u_texels_per_pixel_ = -1, u_mode_ = -1, u_range_ = -1,
      u_above_diagonal_ = -1, u_masked_ = -1, u_values_ = -1, u_lut_ = -1, u_overlay_ = -1;
  std::vector<std::pair<const ColormapTable*, unsigned int>> lookup_textures_;
  std::deque<DrawRecord> records_;  // stable addresses for the callbacks of this frame
};

}  // namespace dmascope::gui
