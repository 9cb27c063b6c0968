// Getting charts and their data out of Loupe: PNG images of any chart (the framebuffer
// region it was drawn in, read back after the frame is rendered and encoded with
// stb_image_write), CSV and JSON of its data, and text to the clipboard. Natively files
// are written to the working directory; in the browser they download (a Blob and an
// <a download>), and the clipboard is navigator.clipboard.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace loupe::app {

struct AppState;

struct PngCapture {
  std::string chart;     // the chart's id (BeginChart)
  std::string filename;
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // UI pixels, filled by EndChart this frame
  bool placed = false;
};

struct ExportState {
  std::vector<PngCapture> captures;  // wanted this frame
  std::string message;               // "Saved ..." or why not, shown in the status line
};

// Asks for a PNG of chart `chart` at the end of this frame.
void RequestPng(AppState& app, const std::string& chart, const std::string& filename);
// Called by EndChart with the chart's rectangle on screen.
void PlaceChart(AppState& app, const std::string& chart, float x0, float y0, float x1, float y1);
// Reads the placed charts back from the framebuffer just rendered (call right after
// ImGui_ImplOpenGL3_RenderDrawData, with the framebuffer's size in pixels).
void CaptureCharts(AppState& app, int framebuffer_width, int framebuffer_height, float pixel_ratio);

// Saves `bytes` as `filename` (native: the working directory; web: a download).
bool SaveFile(AppState& app, const std::string& filename, const std::string& bytes, const char* mime);
// RGBA rows (top row first) as a PNG file's bytes; empty on failure.
std::string EncodePng(const uint8_t* rgba, int width, int height);
void CopyToClipboard(const std::string& text);

}  // namespace loupe::app
