#include "export.h"

#include <SDL.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "app.h"
#include "gl.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>

// Offers `size` bytes at `data` as a download named `name`.
EM_JS(void, loupe_download, (const char* name, const void* data, int size, const char* mime), {
  const bytes = HEAPU8.slice(data, data + size);
  const blob = new Blob([bytes], {type : UTF8ToString(mime)});
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = UTF8ToString(name);
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
});

EM_JS(void, loupe_copy_text, (const char* text), {
  const s = UTF8ToString(text);
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(s).catch((e) => console.warn('Loupe: the clipboard refused the link: ' + e));
  }
  window.loupeLastCopied = s;  // tests and browsers without clipboard access read it here
});
#endif

namespace loupe::app {

void RequestPng(AppState& app, const std::string& chart, const std::string& filename) {
  app.exports.captures.push_back({chart, filename});
}

void PlaceChart(AppState& app, const std::string& chart, float x0, float y0, float x1, float y1) {
  for (PngCapture& c : app.exports.captures) {
    if (c.chart == chart && !c.placed) {
      c.x0 = x0, c.y0 = y0, c.x1 = x1, c.y1 = y1;
      c.placed = true;
    }
  }
}

std::string EncodePng(const uint8_t* rgba, int width, int height) {
  std::string out;
  auto write = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
  };
  if (!stbi_write_png_to_func(write, &out, width, height, 4, rgba, width * 4)) out.clear();
  return out;
}

void CaptureCharts(AppState& app, int fb_width, int fb_height, float ratio) {
  std::vector<PngCapture> done;
  done.swap(app.exports.captures);
  for (const PngCapture& c : done) {
    if (!c.placed) continue;  // the chart was not drawn this frame
    const int x0 = std::clamp(int(std::floor(c.x0 * ratio)), 0, fb_width);
    const int x1 = std::clamp(int(std::ceil(c.x1 * ratio)), 0, fb_width);
    const int top = std::clamp(int(std::floor(c.y0 * ratio)), 0, fb_height);
    const int bottom = std::clamp(int(std::ceil(c.y1 * ratio)), 0, fb_height);
    const int w = x1 - x0, h = bottom - top;
    if (w <= 0 || h <= 0) {
      app.exports.message = "The chart is off screen: scroll it into view and export again.";
      continue;
    }
    std::vector<uint8_t> pixels(size_t(w) * h * 4), rows(size_t(w) * h * 4);
    GLint alignment = 4;
    glGetIntegerv(GL_PACK_ALIGNMENT, &alignment);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadPixels(x0, fb_height - bottom, w, h, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
    glPixelStorei(GL_PACK_ALIGNMENT, alignment);
    for (int y = 0; y < h; ++y)  // GL's rows run bottom-up; PNG's top-down
      std::copy_n(&pixels[size_t(h - 1 - y) * w * 4], size_t(w) * 4, &rows[size_t(y) * w * 4]);
    for (size_t i = 3; i < rows.size(); i += 4) rows[i] = 255;  // the canvas may carry alpha
    const std::string png = EncodePng(rows.data(), w, h);
    if (png.empty()) {
      app.exports.message = "Could not encode " + c.filename + ".";
      continue;
    }
    SaveFile(app, c.filename, png, "image/png");
  }
}

bool SaveFile(AppState& app, const std::string& filename, const std::string& bytes, const char* mime) {
#ifdef __EMSCRIPTEN__
  loupe_download(filename.c_str(), bytes.data(), int(bytes.size()), mime);
  app.exports.message = "Downloaded " + filename + " (" + std::to_string(bytes.size()) + " bytes).";
  return true;
#else
  (void)mime;
  std::error_code ec;
  const std::filesystem::path path = std::filesystem::current_path(ec) / filename;
  std::FILE* f = std::fopen(path.string().c_str(), "wb");
  const bool ok = f && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (f) std::fclose(f);
  app.exports.message = ok ? "Saved " + path.string() + " (" + std::to_string(bytes.size()) + " bytes)."
                           : "Could not write " + path.string() + ".";
  return ok;
#endif
}

void CopyToClipboard(const std::string& text) {
#ifdef __EMSCRIPTEN__
  loupe_copy_text(text.c_str());
#else
  SDL_SetClipboardText(text.c_str());
#endif
}

}  // namespace loupe::app
