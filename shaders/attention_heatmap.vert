// Loupe: the attention heatmap's vertex shader. One source for GLSL ES 3.00 (WebGL2)
// and GLSL 3.30 core (native): the app prepends the #version line when it compiles it
// (src/app/heatmap.cpp). Draws one triangle that covers the viewport, without buffers.
// v_uv runs from (0, 0) at the image's top left to (1, 1) at its bottom right.
out vec2 v_uv;

void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2)) * 2.0 - 1.0;
  v_uv = vec2(p.x * 0.5 + 0.5, 0.5 - p.y * 0.5);
  gl_Position = vec4(p, 0.0, 1.0);
}
