#include "app/gui/render/grid_renderer.h"

#include <epoxy/gl.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "app/gui/platform/shader_sources.h"
#include "core/base/error.h"

namespace dmascope::gui {

namespace {

GLuint compile_shader(GLenum kind, const char* source, const char* name) {
  const GLuint shader = glCreateShader(kind);
  glShaderSource(shader, 1, &source, nullptr);
  glCompileShader(shader);
  GLint ok = 0;
  glGetShaderiv(shader, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    std::string log(4096, '\0');
    GLsizei written = 0;
    glGetShaderInfoLog(shader, static_cast<GLsizei>(log.size()), &written, log.data());
    log.resize(static_cast<std::size_t>(written));
    glDeleteShader(shader);
    fail("shader {} does not compile: {}", name, log);
  }
  return shader;
}

}  // namespace

struct GridRenderer::DrawRecord {
  GridRenderer* renderer = nullptr;
  unsigned int values = 0, lookup = 0;
  std::int64_t texels_x = 0, texels_y = 0;
  ImVec2 top_left, size;
  GridStyle style;
};

GridTexture::~GridTexture() {
  if (texture_) glDeleteTextures(1, &texture_);
}

void GridTexture::upload(const std::vector<float>& values, std::int64_t width, std::int64_t height) {
  if (static_cast<std::int64_t>(values.size()) != width * height || width < 1 || height < 1)
    fail("grid texture: {} values for a {}x{} grid", values.size(), width, height);
  if (!texture_) {
    glGenTextures(1, &texture_);
    glBindTexture(GL_TEXTURE_2D, texture_);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  }
  glBindTexture(GL_TEXTURE_2D, texture_);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_R32F, static_cast<GLsizei>(width), static_cast<GLsizei>(height), 0, GL_RED,
               GL_FLOAT, values.data());
  width_ = width;
  height_ = height;
}

GridRenderer::GridRenderer() {
  const GLuint vertex = compile_shader(GL_VERTEX_SHADER, kGridVertexShader, "shaders/grid.vert");
  const GLuint fragment = compile_shader(GL_FRAGMENT_SHADER, kGridFragmentShader, "shaders/grid.frag");
  program_ = glCreateProgram();
  glAttachShader(program_, vertex);
  glAttachShader(program_, fragment);
  glLinkProgram(program_);
  glDeleteShader(vertex);
  glDeleteShader(fragment);
  GLint ok = 0;
  glGetProgramiv(program_, GL_LINK_STATUS, &ok);
  if (!ok) fail("the grid shader program does not link");
  u_rect_ndc_ = glGetUniformLocation(program_, "u_rect_ndc");
  u_origin_ = glGetUniformLocation(program_, "u_origin");
  u_texels_per_pixel_ = glGetUniformLocation(program_, "u_texels_per_pixel");
  u_mode_ = glGetUniformLocation(program_, "u_mode");
  u_range_ = glGetUniformLocation(program_, "u_range");
  u_above_diagonal_ = glGetUniformLocation(program_, "u_above_diagonal");
  u_masked_ = glGetUniformLocation(program_, "u_masked");
  u_overlay_ = glGetUniformLocation(program_, "u_overlay");
  u_values_ = glGetUniformLocation(program_, "u_values");
  u_lut_ = glGetUniformLocation(program_, "u_lut");
  glGenVertexArrays(1, &empty_vao_);
}

GridRenderer::~GridRenderer() {
  for (auto& [table, texture] : lookup_textures_) glDeleteTextures(1, &texture);
  if (empty_vao_) glDeleteVertexArrays(1, &empty_vao_);
  if (program_) glDeleteProgram(program_);
}

unsigned int GridRenderer::lookup_texture(const ColormapTable* table) {
  for (auto& [known, texture] : lookup_textures_)
    if (known == table) return texture;
  std::vector<std::uint8_t> rgba(256 * 4);
  for (int n = 0; n < 256; ++n) {
    for (int c = 0; c < 3; ++c) rgba[n * 4 + c] = (*table)[n][c];
    rgba[n * 4 + 3] = 255;
  }
  GLuint texture = 0;
  glGenTextures(1, &texture);
  glBindTexture(GL_TEXTURE_2D, texture);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, 256, 1, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
  lookup_textures_.emplace_back(table, texture);
  return texture;
}

void GridRenderer::begin_frame() { records_.clear(); }

void GridRenderer::draw(ImDrawList* draw_list, const GridTexture& texture, ImVec2 top_left, ImVec2 size,
                        const GridStyle& style) {
  if (texture.empty() || size.x <= 0 || size.y <= 0 || !style.table) return;
  DrawRecord& record = records_.emplace_back();
  record.renderer = this;
  record.values = texture.id();
  record.lookup = lookup_texture(style.table);
  record.texels_x = texture.width();
  record.texels_y = texture.height();
  record.top_left = top_left;
  record.size = size;
  record.style = style;
  draw_list->AddCallback(&GridRenderer::render_callback, &record);
  draw_list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

void GridRenderer::render_callback(const ImDrawList*, const ImDrawCmd* command) {
  const auto& record = *static_cast<const DrawRecord*>(command->UserCallbackData);
  const GridRenderer& self = *record.renderer;
  const ImDrawData* draw_data = ImGui::GetDrawData();
  const ImVec2 scale = draw_data->FramebufferScale, origin = draw_data->DisplayPos, display = draw_data->DisplaySize;
  const float framebuffer_height = display.y * scale.y;
  // The quad in normalized device coordinates and its top-left corner in window pixels (y up).
  const float x0 = (record.top_left.x - origin.x) * scale.x, y0 = (record.top_left.y - origin.y) * scale.y;
  const float x1 = x0 + record.size.x * scale.x, y1 = y0 + record.size.y * scale.y;
  const float width = display.x * scale.x;
  const ImVec4 clip = command->ClipRect;
  const float clip_x0 = (clip.x - origin.x) * scale.x, clip_y0 = (clip.y - origin.y) * scale.y;
  const float clip_x1 = (clip.z - origin.x) * scale.x, clip_y1 = (clip.w - origin.y) * scale.y;
  if (clip_x1 <= clip_x0 || clip_y1 <= clip_y0) return;
  glEnable(GL_SCISSOR_TEST);
  glScissor(static_cast<GLint>(clip_x0), static_cast<GLint>(framebuffer_height - clip_y1),
            static_cast<GLsizei>(clip_x1 - clip_x0), static_cast<GLsizei>(clip_y1 - clip_y0));
  const GridStyle& style = record.style;
  if (style.overlay) {
    glEnable(GL_BLEND);
    glBlendFunc(GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA);
  } else {
    glDisable(GL_BLEND);
  }
  glUseProgram(self.program_);
  glUniform1i(self.u_overlay_, style.overlay ? 1 : 0);
  glBindVertexArray(self.empty_vao_);
  glUniform4f(self.u_rect_ndc_, x0 / width * 2 - 1, 1 - y0 / framebuffer_height * 2, x1 / width * 2 - 1,
              1 - y1 / framebuffer_height * 2);
  glUniform2f(self.u_origin_, x0, framebuffer_height - y0);
  glUniform2f(self.u_texels_per_pixel_, static_cast<float>(record.texels_x) / (x1 - x0),
              static_cast<float>(record.texels_y) / (y1 - y0));
  glUniform1i(self.u_mode_, style.mapping == GridMapping::Linear ? 0 : style.mapping == GridMapping::Log ? 1 : 2);
  if (style.mapping == GridMapping::Log)
    glUniform2f(self.u_range_, std::log10(std::max(style.low, 1e-30f)), std::log10(std::max(style.high, 1e-30f)));
  else
    glUniform2f(self.u_range_, style.low, style.high);
  glUniform4f(self.u_above_diagonal_, kAboveDiagonalColor[0] / 255.0f, kAboveDiagonalColor[1] / 255.0f,
              kAboveDiagonalColor[2] / 255.0f, 1.0f);
  glUniform4f(self.u_masked_, kMaskedColor[0] / 255.0f, kMaskedColor[1] / 255.0f, kMaskedColor[2] / 255.0f, 1.0f);
  glUniform1i(self.u_values_, 0);
  glUniform1i(self.u_lut_, 1);
  glActiveTexture(GL_TEXTURE1);
  glBindTexture(GL_TEXTURE_2D, record.lookup);
  glActiveTexture(GL_TEXTURE0);
  glBindTexture(GL_TEXTURE_2D, record.values);
  glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
}

}  // namespace dmascope::gui
