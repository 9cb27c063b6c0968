#include "theme.h"

#include <cstdio>

#include "imgui.h"

namespace loupe::app {

namespace {

// ImGui wants colours as floats; these read more easily as 0xRRGGBB.
ImVec4 Rgb(unsigned rgb, float alpha = 1.0f) {
  return ImVec4(((rgb >> 16) & 0xff) / 255.0f, ((rgb >> 8) & 0xff) / 255.0f, (rgb & 0xff) / 255.0f, alpha);
}

// Shapes and spacing shared by both themes.
void ApplyMetrics(ImGuiStyle& s) {
  s.WindowPadding = ImVec2(14, 12);
  s.FramePadding = ImVec2(8, 5);
  s.ItemSpacing = ImVec2(10, 7);
  s.ItemInnerSpacing = ImVec2(6, 5);
  s.ScrollbarSize = 12;
  s.GrabMinSize = 10;
  s.WindowBorderSize = 0;
  s.ChildBorderSize = 1;
  s.FrameBorderSize = 0;
  s.PopupBorderSize = 1;
  s.WindowRounding = 0;
  s.ChildRounding = 6;
  s.FrameRounding = 5;
  s.PopupRounding = 6;
  s.ScrollbarRounding = 6;
  s.GrabRounding = 4;
  s.TabRounding = 5;
  s.SelectableTextAlign = ImVec2(0.0f, 0.5f);
}

// Dark: ink-blue greys with a teal accent.
const Palette kDarkPalette = {{0.075f, 0.086f, 0.106f, 1.0f}, IM_COL32(150, 160, 175, 255),
                              IM_COL32(94, 200, 190, 255), IM_COL32(240, 190, 90, 255)};
// Light: paper white with a deeper teal, dark enough for body text contrast.
const Palette kLightPalette = {{0.965f, 0.965f, 0.955f, 1.0f}, IM_COL32(95, 102, 112, 255),
                               IM_COL32(0, 118, 110, 255), IM_COL32(160, 95, 0, 255)};

void DarkColors(ImVec4* c) {
  ImGui::StyleColorsDark();
  c[ImGuiCol_Text] = Rgb(0xe6e9ee);
  c[ImGuiCol_TextDisabled] = Rgb(0x7b8494);
  c[ImGuiCol_WindowBg] = Rgb(0x13161b);
  c[ImGuiCol_ChildBg] = Rgb(0x181c22);
  c[ImGuiCol_PopupBg] = Rgb(0x1d222a, 0.98f);
  c[ImGuiCol_Border] = Rgb(0x2c323c);
  c[ImGuiCol_FrameBg] = Rgb(0x232933);
  c[ImGuiCol_FrameBgHovered] = Rgb(0x2b3340);
  c[ImGuiCol_FrameBgActive] = Rgb(0x323b4a);
  c[ImGuiCol_Button] = Rgb(0x26303b);
  c[ImGuiCol_ButtonHovered] = Rgb(0x2f4650);
  c[ImGuiCol_ButtonActive] = Rgb(0x35606a);
  c[ImGuiCol_Header] = Rgb(0x1f4b4f);
  c[ImGuiCol_HeaderHovered] = Rgb(0x26595d);
  c[ImGuiCol_HeaderActive] = Rgb(0x2d6a6e);
  c[ImGuiCol_Separator] = Rgb(0x2c323c);
  c[ImGuiCol_CheckMark] = Rgb(0x5ec8be);
  c[ImGuiCol_SliderGrab] = Rgb(0x5ec8be);
  c[ImGuiCol_SliderGrabActive] = Rgb(0x7fdcd3);
  c[ImGuiCol_Tab] = Rgb(0x1d232b);
  c[ImGuiCol_TabHovered] = Rgb(0x26595d);
  c[ImGuiCol_TabActive] = Rgb(0x1f4b4f);
  c[ImGuiCol_TableHeaderBg] = Rgb(0x1f252d);
  c[ImGuiCol_TableBorderStrong] = Rgb(0x2c323c);
  c[ImGuiCol_TableBorderLight] = Rgb(0x242a33);
  c[ImGuiCol_TableRowBgAlt] = Rgb(0xffffff, 0.03f);
  c[ImGuiCol_ScrollbarBg] = Rgb(0x000000, 0.0f);
}

void LightColors(ImVec4* c) {
  ImGui::StyleColorsLight();
  c[ImGuiCol_Text] = Rgb(0x1d2127);
  c[ImGuiCol_TextDisabled] = Rgb(0x8a9099);
  c[ImGuiCol_WindowBg] = Rgb(0xf6f6f4);
  c[ImGuiCol_ChildBg] = Rgb(0xffffff);
  c[ImGuiCol_PopupBg] = Rgb(0xffffff, 0.98f);
  c[ImGuiCol_Border] = Rgb(0xd9dbdf);
  c[ImGuiCol_FrameBg] = Rgb(0xeceef1);
  c[ImGuiCol_FrameBgHovered] = Rgb(0xe2e6ea);
  c[ImGuiCol_FrameBgActive] = Rgb(0xd6dce2);
  c[ImGuiCol_Button] = Rgb(0xe6eaee);
  c[ImGuiCol_ButtonHovered] = Rgb(0xcfe8e5);
  c[ImGuiCol_ButtonActive] = Rgb(0xb3ddd8);
  c[ImGuiCol_Header] = Rgb(0xd3ebe8);
  c[ImGuiCol_HeaderHovered] = Rgb(0xc3e3df);
  c[ImGuiCol_HeaderActive] = Rgb(0xb0dad5);
  c[ImGuiCol_Separator] = Rgb(0xd9dbdf);
  c[ImGuiCol_CheckMark] = Rgb(0x00766e);
  c[ImGuiCol_SliderGrab] = Rgb(0x00766e);
  c[ImGuiCol_SliderGrabActive] = Rgb(0x005a54);
  c[ImGuiCol_Tab] = Rgb(0xe6eaee);
  c[ImGuiCol_TabHovered] = Rgb(0xc3e3df);
  c[ImGuiCol_TabActive] = Rgb(0xd3ebe8);
  c[ImGuiCol_TableHeaderBg] = Rgb(0xeef0f2);
  c[ImGuiCol_TableBorderStrong] = Rgb(0xd9dbdf);
  c[ImGuiCol_TableBorderLight] = Rgb(0xe6e8eb);
  c[ImGuiCol_TableRowBgAlt] = Rgb(0x000000, 0.025f);
  c[ImGuiCol_ScrollbarBg] = Rgb(0x000000, 0.0f);
}

// Latin + Latin-1 + Latin Extended-A/B, combining diacritics, Latin Extended Additional
// (Vietnamese), general punctuation, currency signs (the dong sign), the replacement character.
const ImWchar kGlyphRanges[] = {
    0x0020, 0x024F, 0x0300, 0x036F, 0x1E00, 0x1EFF, 0x2000, 0x206F,
    0x20A0, 0x20CF, 0xFFFD, 0xFFFD, 0,
};

}  // namespace

void ApplyTheme(Theme theme) {
  ImGuiStyle& style = ImGui::GetStyle();
  style = ImGuiStyle();
  if (theme == Theme::kDark) {
    DarkColors(style.Colors);
  } else {
    LightColors(style.Colors);
  }
  ApplyMetrics(style);
}

const Palette& ThemePalette(Theme theme) { return theme == Theme::kDark ? kDarkPalette : kLightPalette; }

const char* ThemeName(Theme theme) { return theme == Theme::kDark ? "dark" : "light"; }

const unsigned short* FontGlyphRanges() { return kGlyphRanges; }

void LoadFonts(Fonts& fonts, const std::string& ttf_path, float pixel_ratio) {
  static_assert(sizeof(ImWchar) == sizeof(unsigned short), "ImWchar is 16 bits in this build");
  if (pixel_ratio <= 0.0f) pixel_ratio = 1.0f;
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  fonts = Fonts{};
  fonts.pixel_ratio = pixel_ratio;

  // ImGui would abort on a missing file; check first so the app can say so instead.
  bool readable = false;
  if (std::FILE* f = std::fopen(ttf_path.c_str(), "rb")) {
    readable = std::fgetc(f) != EOF;
    std::fclose(f);
  }
  ImFontConfig config;
  config.OversampleH = 2;  // at device resolution this is plenty; keeps the atlas small
  config.OversampleV = 1;
  config.PixelSnapH = false;
  if (readable) {
    fonts.body = io.Fonts->AddFontFromFileTTF(ttf_path.c_str(), kBodyFontSize * pixel_ratio, &config, kGlyphRanges);
    fonts.heading = io.Fonts->AddFontFromFileTTF(ttf_path.c_str(), kHeadingFontSize * pixel_ratio, &config, kGlyphRanges);
  }
  if (fonts.body && fonts.heading) {
    fonts.path = ttf_path;
  } else {
    io.Fonts->Clear();
    fonts.error = readable ? "could not parse " + ttf_path : "could not read " + ttf_path;
    ImFontConfig fallback;
    fallback.SizePixels = 13.0f * pixel_ratio;
    fonts.body = io.Fonts->AddFontDefault(&fallback);
    fallback.SizePixels = 13.0f * pixel_ratio * kHeadingFontSize / kBodyFontSize;
    fonts.heading = io.Fonts->AddFontDefault(&fallback);
  }
  io.FontDefault = fonts.body;
  io.FontGlobalScale = 1.0f / pixel_ratio;
  io.Fonts->Build();
}

}  // namespace loupe::app
