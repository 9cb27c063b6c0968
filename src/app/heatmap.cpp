#include "heatmap.h"

#include <SDL.h>

#include <cstdint>

#include "app/shaders_embedded.h"
#include "colormap.h"

namespace loupe::app {

namespace {

GLuint Compile(GLenum type, const std::string& source, std::string& error) {
  const GLuint shader = glCreateShader(type);
  const char* text = source.c_str();
  glShaderSource(shader, 1, &text, nullptr);
  glCompileShader(shader);
  GLint ok = 0;
  glGetShaderiv(shader, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char log[1024] = {};
    glGetShaderInfoLog(shader, sizeof log, nullptr, log);
    error = std::string(type == GL_VERTEX_SHADER ? "attention_heatmap.vert" : "attention_heatmap.frag") + " did not compile: " + log;
    glDeleteShader(shader);
    return 0;
  }
  return shader;
}

// Saves the GL state Render changes and puts it back when it goes out of scope.
struct SavedState {
  GLint framebuffer = 0, program = 0, vao = 0, texture = 0, active = 0, viewport[4] = {};
  GLboolean blend = GL_FALSE, scissor = GL_FALSE;
  SavedState() {
    glGetIntegerv(GL_FRAMEBUFFER_BINDING, &framebuffer);
    glGetIntegerv(GL_CURRENT_PROGRAM, &program);
    glGetIntegerv(GL_VERTEX_ARRAY_BINDING, &vao);
    glGetIntegerv(GL_ACTIVE_TEXTURE, &active);
    glActiveTexture(GL_TEXTURE0);
    glGetIntegerv(GL_TEXTURE_BINDING_2D, &texture);
    glGetIntegerv(GL_VIEWPORT, viewport);
    blend = glIsEnabled(GL_BLEND);
    scissor = glIsEnabled(GL_SCISSOR_TEST);
  }
  ~SavedState() {
    glBindFramebuffer(GL_FRAMEBUFFER, GLuint(framebuffer));
    glUseProgram(GLuint(program));
    glBindVertexArray(GLuint(vao));
    glActiveTexture(GL_TEXTURE1);
    glBindTexture(GL_TEXTURE_2D, 0);
    glActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, GLuint(texture));
    glActiveTexture(GLenum(active));
    glViewport(viewport[0], viewport[1], viewport[2], viewport[3]);
    if (blend) glEnable(GL_BLEND);
    if (scissor) glEnable(GL_SCISSOR_TEST);
  }
};

}  // namespace

std::string WithVersionLine(const char* source) { return std::string(kGlslVersion) + "\n" + source; }

HeatmapRenderer::~HeatmapRenderer() {
  // Only while a context is current: the native app may drop its state after the context.
  if (!SDL_GL_GetCurrentContext()) return;
  if (program_) glDeleteProgram(program_);
  if (vao_) glDeleteVertexArrays(1, &vao_);
  GLuint textures[3] = {weights_, colormap_, target_};
  glDeleteTextures(3, textures);
  if (framebuffer_) glDeleteFramebuffers(1, &framebuffer_);
}

bool HeatmapRenderer::Init() {
  if (tried_) return program_ != 0;
  tried_ = true;
  const GLuint vs = Compile(GL_VERTEX_SHADER, WithVersionLine(k_attention_heatmap_vert), error_);
  if (!vs) return false;
  const GLuint fs = Compile(GL_FRAGMENT_SHADER, WithVersionLine(k_attention_heatmap_frag), error_);
  if (!fs) {
    glDeleteShader(vs);
    return false;
  }
  const GLuint program = glCreateProgram();
  glAttachShader(program, vs);
  glAttachShader(program, fs);
  glLinkProgram(program);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(program, GL_LINK_STATUS, &ok);
  if (!ok) {
    char log[1024] = {};
    glGetProgramInfoLog(program, sizeof log, nullptr, log);
    error_ = std::string("the heatmap shaders did not link: ") + log;
    glDeleteProgram(program);
    return false;
  }
  program_ = program;
  glGenVertexArrays(1, &vao_);

  GLint previous = 0;
  glGetIntegerv(GL_TEXTURE_BINDING_2D, &previous);
  uint8_t table[kColormapSize * 4];
  for (int i = 0; i < kColormapSize; ++i) {
    const Rgb c = ViridisTable()[i];
    table[i * 4 + 0] = uint8_t(c.r * 255.0f + 0.5f);
    table[i * 4 + 1] = uint8_t(c.g * 255.0f + 0.5f);
    table[i * 4 + 2] = uint8_t(c.b * 255.0f + 0.5f);
    table[i * 4 + 3] = 255;
  }
  glGenTextures(1, &colormap_);
  glBindTexture(GL_TEXTURE_2D, colormap_);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, kColormapSize, 1, 0, GL_RGBA, GL_UNSIGNED_BYTE, table);
  glBindTexture(GL_TEXTURE_2D, GLuint(previous));
  return true;
}

void HeatmapRenderer::Upload(const float* data, int rows, int cols, unsigned generation) {
  if (!program_ || !data || rows <= 0 || cols <= 0) return;
  if (data == uploaded_ && rows == rows_ && cols == cols_ && generation == generation_) return;
  GLint previous = 0, alignment = 4;
  glGetIntegerv(GL_TEXTURE_BINDING_2D, &previous);
  glGetIntegerv(GL_UNPACK_ALIGNMENT, &alignment);
  if (!weights_) glGenTextures(1, &weights_);
  glBindTexture(GL_TEXTURE_2D, weights_);
  // R32F is not filterable in WebGL2 without an extension; the shader uses texelFetch.
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_R32F, cols, rows, 0, GL_RED, GL_FLOAT, data);
  glPixelStorei(GL_UNPACK_ALIGNMENT, alignment);
  glBindTexture(GL_TEXTURE_2D, GLuint(previous));
  uploaded_ = data;
  rows_ = rows;
  cols_ = cols;
  generation_ = generation;
}

unsigned HeatmapRenderer::Render(int width, int height, const View& v) {
  if (!program_ || !weights_ || width <= 0 || height <= 0) return 0;
  SavedState saved;
  if (!target_ || width != target_w_ || height != target_h_) {
    if (!target_) glGenTextures(1, &target_);
    glBindTexture(GL_TEXTURE_2D, target_);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
    if (!framebuffer_) glGenFramebuffers(1, &framebuffer_);
    glBindFramebuffer(GL_FRAMEBUFFER, framebuffer_);
    glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, target_, 0);
    if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE) {
      error_ = "the heatmap's framebuffer is incomplete";
      return 0;
    }
    target_w_ = width;
    target_h_ = height;
  }
  glBindFramebuffer(GL_FRAMEBUFFER, framebuffer_);
  glViewport(0, 0, width, height);
  glDisable(GL_BLEND);
  glDisable(GL_SCISSOR_TEST);
  glUseProgram(program_);
  glBindVertexArray(vao_);
  glActiveTexture(GL_TEXTURE0);
  glBindTexture(GL_TEXTURE_2D, weights_);
  glActiveTexture(GL_TEXTURE1);
  glBindTexture(GL_TEXTURE_2D, colormap_);
  glUniform1i(glGetUniformLocation(program_, "u_weights"), 0);
  glUniform1i(glGetUniformLocation(program_, "u_colormap"), 1);
  glUniform4f(glGetUniformLocation(program_, "u_view"), v.x0, v.y0, v.x1, v.y1);
  glUniform2f(glGetUniformLocation(program_, "u_size"), float(width), float(height));
  glUniform1f(glGetUniformLocation(program_, "u_max"), v.max_value);
  glUniform3f(glGetUniformLocation(program_, "u_masked"), v.masked[0], v.masked[1], v.masked[2]);
  glUniform3f(glGetUniformLocation(program_, "u_outline"), v.outline[0], v.outline[1], v.outline[2]);
  glUniform2i(glGetUniformLocation(program_, "u_highlight"), v.highlight_col, v.highlight_row);
  glUniform1i(glGetUniformLocation(program_, "u_causal"), v.causal ? 1 : 0);
  glDrawArrays(GL_TRIANGLES, 0, 3);
  return target_;
}

}  // namespace loupe::app

namespace loupe::app {
GlTexture::~GlTexture() {
  if (id && SDL_GL_GetCurrentContext()) glDeleteTextures(1, &id);
}

unsigned UploadRgbaTexture(unsigned texture, const unsigned char* rgba, int width, int height) {
  GLint previous = 0, alignment = 4;
  glGetIntegerv(GL_TEXTURE_BINDING_2D, &previous);
  glGetIntegerv(GL_UNPACK_ALIGNMENT, &alignment);
  GLuint t = texture;
  if (!t) glGenTextures(1, &t);
  glBindTexture(GL_TEXTURE_2D, t);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  glPixelStorei(GL_UNPACK_ALIGNMENT, alignment);
  glBindTexture(GL_TEXTURE_2D, GLuint(previous));
  return t;
}
}  // namespace loupe::app
