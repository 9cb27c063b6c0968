// The large attention heatmap: a matrix uploaded as an R32F texture and drawn by our own
// shader (shaders/attention_heatmap.{vert,frag}) into a framebuffer whose colour texture
// ImGui shows as an image. The shader sources are compiled into the binary (CMake writes
// them into generated/app/shaders_embedded.h at configure time), so the native and the
// web build need no shader files at run time; the #version line is prepended here:
// "#version 300 es" for WebGL2, "#version 330 core" natively.
#pragma once
#include <string>
#include <vector>

#include "gl.h"

namespace loupe::app {

// The GLSL source with the #version line for this build prepended.
std::string WithVersionLine(const char* source);

class HeatmapRenderer {
 public:
  HeatmapRenderer() = default;
  HeatmapRenderer(const HeatmapRenderer&) = delete;
  HeatmapRenderer& operator=(const HeatmapRenderer&) = delete;
  ~HeatmapRenderer();

  // Compiles the shaders and makes the colormap texture; false (with error()) on failure.
  // Needs a current GL context; safe to call every frame (does the work once).
  bool Init();
  const std::string& error() const { return error_; }
  bool ready() const { return program_ != 0; }

  // Uploads a rows x cols matrix (row-major) when `data` or the shape changed since the
  // last upload (compared by pointer and a generation counter the caller bumps).
  void Upload(const float* data, int rows, int cols, unsigned generation);

  struct View {
    float x0 = 0, y0 = 0, x1 = 1, y1 = 1;  // visible cells: columns x0..x1, rows y0..y1
    float max_value = 1;                   // the value drawn with the top colour
    int highlight_col = -1, highlight_row = -1;
    bool causal = true;                    // grey out keys after the query
    float masked[3] = {0.5f, 0.5f, 0.5f};
    float outline[3] = {1, 1, 1};
  };
  // Renders into the framebuffer (resized to width x height pixels) and returns its
  // colour texture for ImGui::Image (draw it with uv0 = (0, 1), uv1 = (1, 0)). Restores
  // the framebuffer, viewport, program and bindings it found. 0 when not ready.
  unsigned Render(int width, int height, const View& view);

 private:
  std::string error_;
  bool tried_ = false;
  GLuint program_ = 0, vao_ = 0, weights_ = 0, colormap_ = 0, framebuffer_ = 0, target_ = 0;
  int target_w_ = 0, target_h_ = 0, rows_ = 0, cols_ = 0;
  const float* uploaded_ = nullptr;
  unsigned generation_ = ~0u;
};

}  // namespace loupe::app

namespace loupe::app {
// Uploads RGBA8 pixels (top row first) to `texture` (made when 0), nearest filtering;
// returns the texture. For the head grid's thumbnails, drawn as one ImGui image.
unsigned UploadRgbaTexture(unsigned texture, const unsigned char* rgba, int width, int height);
// A texture the app made, deleted with it (while a GL context is current).
struct GlTexture {
  unsigned id = 0;
  unsigned generation = ~0u;  // what it was made from
  ~GlTexture();
};
}  // namespace loupe::app
