#version 330 core
// Colours a view-sized grid of values (core/view_reduce.h) through a 256-entry lookup table.
// The texel is found from the window position of the fragment, not from interpolated coordinates, so that each
// screen pixel reads exactly its own grid value (pixel centres sit at .5, far from texel edges).
uniform sampler2D u_values;        // R32F [height, width], row 0 = the top row of the view; nearest, no mipmaps
uniform sampler2D u_lut;           // 256×1 RGBA8 lookup table (app/gui/colormaps.h)
uniform vec2 u_origin;             // the grid's top-left corner in window coordinates (GL convention: y up)
uniform vec2 u_texels_per_pixel;   // grid size / on-screen size in framebuffer pixels (1 when they match)
uniform int u_mode;                // 0 linear, 1 log10, 2 categorical (the value is the table index)
uniform vec2 u_range;              // linear: values mapped to entries 0 and 255; log: their log10
uniform vec4 u_above_diagonal;     // for values in [-1.5, 0): pixels with no causally allowed cell
uniform vec4 u_masked;             // for values < -1.5: allowed cells, none kept (logits view), hatched with the above
uniform int u_overlay;             // 1: drawn over another grid (blended): values ≤ 0 leave it visible, and a value's
                                   // opacity grows with it, so that small values tint and large ones cover

out vec4 o_color;

void main() {
  ivec2 size = textureSize(u_values, 0);
  vec2 offset = vec2(gl_FragCoord.x - u_origin.x, u_origin.y - gl_FragCoord.y);
  ivec2 texel = clamp(ivec2(floor(offset * u_texels_per_pixel)), ivec2(0), size - ivec2(1));
  float value = texelFetch(u_values, texel, 0).r;
  if (u_overlay == 1 && value <= 0.0) discard;
  if (value < -1.5) {  // 4-pixel diagonal stripes: unlike any colormap entry, so "masked" never reads as a value
    o_color = (int(floor(gl_FragCoord.x + gl_FragCoord.y)) / 4) % 2 == 0 ? u_masked : u_above_diagonal;
    return;
  }
  if (value < 0.0) {
    o_color = u_above_diagonal;
    return;
  }
  int index;
  if (u_mode == 2) {
    index = int(value + 0.5);
  } else {
    float x = value;
    if (u_mode == 1) x = value > 0.0 ? log(value) * 0.43429448190325176 : u_range.x;  // log10
    float t = (x - u_range.x) / max(u_range.y - u_range.x, 1e-30);
    index = int(clamp(t, 0.0, 1.0) * 255.0 + 0.5);
  }
  o_color = texelFetch(u_lut, ivec2(clamp(index, 0, 255), 0), 0);
  if (u_overlay == 1) o_color.a = sqrt(float(clamp(index, 0, 255)) / 255.0);
}
