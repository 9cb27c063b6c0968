// Look and feel: the light and dark themes, and the fonts at the display's pixel ratio.
#pragma once
#include <string>

struct ImFont;

namespace loupe::app {

enum class Theme { kDark, kLight };

// The colours the app draws with beyond ImGui's own (status line, captions, accents).
struct Palette {
  float background[4];  // behind every window: the GL clear colour
  unsigned muted;       // secondary text (ImU32, ABGR)
  unsigned accent;      // headings, selection
  unsigned warning;     // "not yet" notices
};

// Sets ImGui's style for `theme`. Sizes are in UI units (CSS pixels on the web); the
// renderer scales them to device pixels, so nothing here depends on the pixel ratio.
void ApplyTheme(Theme theme);
const Palette& ThemePalette(Theme theme);
const char* ThemeName(Theme theme);

// The app's fonts. Rasterised at `pixel_ratio` times their UI size and drawn at
// 1/pixel_ratio, so text stays sharp on HiDPI screens.
struct Fonts {
  ImFont* body = nullptr;     // 16 px UI text
  ImFont* heading = nullptr;  // 22 px view titles
  std::string path;           // the TTF loaded, empty when the built-in fallback is in use
  std::string error;          // why the TTF could not be used, empty when it was
  float pixel_ratio = 0.0f;   // the ratio the atlas was built for
};

inline constexpr float kBodyFontSize = 16.0f;
inline constexpr float kHeadingFontSize = 22.0f;

// Rebuilds ImGui's font atlas from the TTF at `ttf_path` (Latin, Latin Extended A/B,
// combining marks, Vietnamese, general punctuation). Falls back to ImGui's built-in font
// (ASCII only) with `fonts.error` set when the file cannot be read. The caller must
// re-upload the atlas texture to the GPU afterwards.
void LoadFonts(Fonts& fonts, const std::string& ttf_path, float pixel_ratio);

// The glyph ranges LoadFonts asks for, zero-terminated pairs (for the System view).
const unsigned short* FontGlyphRanges();

}  // namespace loupe::app
