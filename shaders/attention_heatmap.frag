// Loupe: the attention heatmap's fragment shader (GLSL ES 3.00 and GLSL 3.30 alike; the
// #version line is prepended at load time). Each pixel looks up one cell of the
// attention matrix (row: query, column: key) and colours its weight with viridis.
precision highp float;
precision highp int;
precision highp sampler2D;

uniform sampler2D u_weights;   // R32F, width = keys, height = queries, fetched exactly
uniform sampler2D u_colormap;  // 256 x 1 RGBA8: viridis (src/app/colormap_viridis.inc)
uniform vec4 u_view;           // the visible cells: x0, y0 (top left), x1, y1 (bottom right)
uniform vec2 u_size;           // the target's size in pixels
uniform float u_max;           // the weight drawn with the colormap's top colour
uniform vec3 u_masked;         // keys after the query (the model cannot see them)
uniform vec3 u_outline;        // the highlighted row and column, and grid lines
uniform ivec2 u_highlight;     // (key, query) to outline; -1 for none
uniform int u_causal;          // 1: mask keys after the query

in vec2 v_uv;
out vec4 frag_color;

void main() {
  ivec2 dims = textureSize(u_weights, 0);
  vec2 cell = mix(u_view.xy, u_view.zw, v_uv);
  ivec2 at = ivec2(floor(cell));
  if (at.x < 0 || at.y < 0 || at.x >= dims.x || at.y >= dims.y) {
    frag_color = vec4(u_masked, 1.0);
    return;
  }
  vec3 color;
  if (u_causal == 1 && at.x > at.y) {
    color = u_masked;
  } else {
    float w = texelFetch(u_weights, at, 0).r;
    float t = clamp(w / max(u_max, 1e-6), 0.0, 1.0);
    color = texelFetch(u_colormap, ivec2(int(t * 255.0 + 0.5), 0), 0).rgb;
  }
  // Cells wider than 6 pixels get a hairline border; the highlighted cell a thick one.
  vec2 pixels_per_cell = u_size / max(u_view.zw - u_view.xy, vec2(1e-6));
  vec2 inside = fract(cell) * pixels_per_cell;
  vec2 edge = min(inside, pixels_per_cell - inside);
  if (min(pixels_per_cell.x, pixels_per_cell.y) > 6.0 && min(edge.x, edge.y) < 0.5) color = mix(color, u_masked, 0.6);
  if (at == u_highlight && min(edge.x, edge.y) < 2.0) color = u_outline;
  frag_color = vec4(color, 1.0);
}
