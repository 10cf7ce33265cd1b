#version 330 core
// One screen-aligned quad per grid, made from gl_VertexID (no vertex buffer; an empty VAO is bound):
// vertices 0..3 are the corners (0,0) (1,0) (0,1) (1,1) of a triangle strip over u_rect_ndc.
uniform vec4 u_rect_ndc;  // x0, y0 (top-left), x1, y1 (bottom-right) in normalized device coordinates

void main() {
  vec2 corner = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));
  gl_Position = vec4(mix(u_rect_ndc.xy, u_rect_ndc.zw, corner), 0.0, 1.0);
}
