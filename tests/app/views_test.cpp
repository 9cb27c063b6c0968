// Renders every view of the app once into an offscreen framebuffer, in both themes and
// at pixel ratios 1 and 2, and checks that OpenGL reports no error and that something
// was drawn. Needs a display: scripts/loupe test runs ctest under xvfb-run when DISPLAY
// is unset; without one the rendering tests are skipped, not passed.
#include <SDL.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "app.h"
#include "core/version.h"
#include "gl.h"
#include "imgui.h"
#include "imgui_impl_opengl3.h"
#include "imgui_impl_sdl.h"

namespace loupe::app {
namespace {

const std::string kFont = std::string(LOUPE_SOURCE_ASSETS_DIR) + "/fonts/NotoSans-Regular.ttf";

// A hidden SDL window with an OpenGL 3.3 core context, ImGui with its SDL2 and OpenGL3
// backends, and a colour framebuffer to draw into.
class OffscreenTest : public ::testing::Test {
 protected:
  static constexpr float kClear[3] = {1.0f, 0.0f, 1.0f};
  static constexpr int kWidth = 1024;  // UI pixels
  static constexpr int kHeight = 640;

  void SetUp() override {
    if (SDL_Init(SDL_INIT_VIDEO) != 0) GTEST_SKIP() << "no display for an OpenGL context: " << SDL_GetError();
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_FLAGS, SDL_GL_CONTEXT_FORWARD_COMPATIBLE_FLAG);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_CORE);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 3);
    window_ = SDL_CreateWindow("loupe_app_tests", 0, 0, kWidth, kHeight, SDL_WINDOW_OPENGL | SDL_WINDOW_HIDDEN);
    ASSERT_NE(window_, nullptr) << SDL_GetError();
    gl_ = SDL_GL_CreateContext(window_);
    ASSERT_NE(gl_, nullptr) << SDL_GetError();
    SDL_GL_MakeCurrent(window_, gl_);

    ImGui::CreateContext();
    ImGui::GetIO().IniFilename = nullptr;
    ASSERT_TRUE(ImGui_ImplSDL2_InitForOpenGL(window_, gl_));
    ASSERT_TRUE(ImGui_ImplOpenGL3_Init(kGlslVersion));
    imgui_ready_ = true;
  }

  void TearDown() override {
    if (framebuffer_) glDeleteFramebuffers(1, &framebuffer_);
    if (texture_) glDeleteTextures(1, &texture_);
    if (imgui_ready_) {
      ImGui_ImplOpenGL3_Shutdown();
      ImGui_ImplSDL2_Shutdown();
    }
    if (ImGui::GetCurrentContext()) ImGui::DestroyContext();
    if (gl_) SDL_GL_DeleteContext(gl_);
    if (window_) SDL_DestroyWindow(window_);
    SDL_Quit();
  }

  // Fonts for `ratio` and a framebuffer of kWidth x kHeight UI pixels at that ratio.
  void Prepare(AppState& app, float ratio) {
    LoadFonts(app.fonts, kFont, ratio);
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ASSERT_TRUE(ImGui_ImplOpenGL3_CreateFontsTexture());
    ASSERT_TRUE(app.fonts.error.empty()) << app.fonts.error;
    fb_width_ = static_cast<int>(kWidth * ratio);
    fb_height_ = static_cast<int>(kHeight * ratio);
    glGenTextures(1, &texture_);
    glBindTexture(GL_TEXTURE_2D, texture_);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, fb_width_, fb_height_, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
    glGenFramebuffers(1, &framebuffer_);
    glBindFramebuffer(GL_FRAMEBUFFER, framebuffer_);
    glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, texture_, 0);
    ASSERT_EQ(glCheckFramebufferStatus(GL_FRAMEBUFFER), static_cast<GLenum>(GL_FRAMEBUFFER_COMPLETE));
    ASSERT_EQ(glGetError(), static_cast<GLenum>(GL_NO_ERROR));
  }

  // Draws one frame of the workspace into the framebuffer and returns its pixels (RGBA).
  std::vector<unsigned char> RenderFrame(AppState& app, float ratio) {
    ApplyTheme(app.theme);
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplSDL2_NewFrame();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(kWidth, kHeight);  // the hidden window's size does not matter
    io.DisplayFramebufferScale = ImVec2(ratio, ratio);
    ImGui::NewFrame();
    DrawWorkspace(app);
    ImGui::Render();

    glBindFramebuffer(GL_FRAMEBUFFER, framebuffer_);
    glViewport(0, 0, fb_width_, fb_height_);
    glClearColor(kClear[0], kClear[1], kClear[2], 1.0f);  // a colour no theme uses
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    std::vector<unsigned char> pixels(static_cast<size_t>(fb_width_) * fb_height_ * 4);
    glReadPixels(0, 0, fb_width_, fb_height_, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
    glFinish();
    return pixels;
  }

  SDL_Window* window_ = nullptr;
  SDL_GLContext gl_ = nullptr;
  bool imgui_ready_ = false;
  GLuint framebuffer_ = 0, texture_ = 0;
  int fb_width_ = 0, fb_height_ = 0;
};

// Pixels that differ from `bg` in the rows [y0, y1) (GL rows: 0 is the bottom).
size_t DrawnPixels(const std::vector<unsigned char>& rgba, int width, int y0, int y1, const float* bg) {
  size_t drawn = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = 0; x < width; ++x) {
      const unsigned char* p = &rgba[(static_cast<size_t>(y) * width + x) * 4];
      for (int c = 0; c < 3; ++c) {
        if (std::abs(p[c] - static_cast<int>(bg[c] * 255.0f + 0.5f)) > 8) {
          ++drawn;
          break;
        }
      }
    }
  }
  return drawn;
}

struct RenderCase {
  ViewId view;
  Theme theme;
  float ratio;
};

// Readable test names in ctest: "GetParam() = Start, dark, pixel ratio 1".
void PrintTo(const RenderCase& c, std::ostream* os) {
  for (const ViewInfo& v : Views()) {
    if (v.id == c.view) *os << v.name;
  }
  *os << ", " << ThemeName(c.theme) << ", pixel ratio " << c.ratio;
}

class ViewRenderTest : public OffscreenTest, public ::testing::WithParamInterface<RenderCase> {};

TEST_P(ViewRenderTest, RendersWithoutGlErrors) {
  const RenderCase& c = GetParam();
  AppState app;
  app.view = c.view;
  app.theme = c.theme;
  Prepare(app, c.ratio);
  // Two frames: ImGui sizes some items from the previous frame's measurements.
  RenderFrame(app, c.ratio);
  const std::vector<unsigned char> pixels = RenderFrame(app, c.ratio);
  EXPECT_EQ(glGetError(), static_cast<GLenum>(GL_NO_ERROR));
  EXPECT_EQ(app.view, c.view);

  const size_t total = static_cast<size_t>(fb_width_) * fb_height_;
  EXPECT_EQ(DrawnPixels(pixels, fb_width_, 0, fb_height_, kClear), total) << "the workspace should fill the frame";
  // The status line: text over the window background in the bottom 20 UI pixels.
  const ImVec4 window_bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
  const float bg[3] = {window_bg.x, window_bg.y, window_bg.z};
  const int status_rows = static_cast<int>(20 * c.ratio);
  EXPECT_GT(DrawnPixels(pixels, fb_width_, 0, status_rows, bg), static_cast<size_t>(1000 * c.ratio))
      << "the status line should show text";
  // The view's panel: text in its top rows (the heading) differs from the panel colour.
  const ImVec4 child_bg = ImGui::GetStyle().Colors[ImGuiCol_ChildBg];
  const float panel[3] = {child_bg.x, child_bg.y, child_bg.z};
  const int top = fb_height_ - static_cast<int>(60 * c.ratio);
  EXPECT_GT(DrawnPixels(pixels, fb_width_, top, fb_height_, panel), static_cast<size_t>(500 * c.ratio))
      << "the view heading should show text";
}

std::string CaseName(const ::testing::TestParamInfo<RenderCase>& info) {
  std::string name;
  for (const ViewInfo& v : Views()) {
    if (v.id == info.param.view) name = v.name;
  }
  std::erase_if(name, [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); });  // "Logit lens"
  name += info.param.theme == Theme::kDark ? "Dark" : "Light";
  name += info.param.ratio > 1.5f ? "HiDpi" : "";
  return name;
}

std::vector<RenderCase> AllCases() {
  std::vector<RenderCase> cases;
  for (const ViewInfo& v : Views()) {
    cases.push_back({v.id, Theme::kDark, 1.0f});
    cases.push_back({v.id, Theme::kLight, 1.0f});
    cases.push_back({v.id, Theme::kDark, 2.0f});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Views, ViewRenderTest, ::testing::ValuesIn(AllCases()), CaseName);

TEST_F(OffscreenTest, FontCoversVietnameseAndLatinExtended) {
  AppState app;
  Prepare(app, 1.0f);
  ASSERT_NE(app.fonts.body, nullptr);
  for (ImWchar c : {ImWchar(0x0111) /* đ */, ImWchar(0x01A1) /* ơ */, ImWchar(0x1EA1) /* ạ */,
                    ImWchar(0x1EC7) /* ệ */, ImWchar(0x0141) /* Ł */, ImWchar(0x2014) /* — */}) {
    EXPECT_NE(app.fonts.body->FindGlyphNoFallback(c), nullptr) << "missing glyph U+" << std::hex << c;
  }
  EXPECT_FLOAT_EQ(ImGui::GetIO().FontGlobalScale, 1.0f);
}

TEST_F(OffscreenTest, FontsAreRasterisedAtThePixelRatio) {
  AppState app;
  Prepare(app, 2.0f);
  EXPECT_FLOAT_EQ(app.fonts.body->FontSize, kBodyFontSize * 2.0f);
  EXPECT_FLOAT_EQ(ImGui::GetIO().FontGlobalScale, 0.5f);
}

// The Model, Generate and Tokens views with a model's card, a generation and a
// tokenization in the state (as the engine's events leave them), drawn offscreen.
TEST_F(OffscreenTest, ModelGenerateAndTokensViewsWithAModel) {
  AppState app;
  Prepare(app, 1.0f);
  using Json = nlohmann::json;
  ApplyEngineEvent(app, {{"event", "ready"}, {"threads", 2}, {"threaded", true}});
  ApplyEngineEvent(app, {{"event", "loaded"},
                         {"card", {{"name", "tiny"}, {"architecture", "llama"}, {"parameters", 1234567},
                                   {"tensor_types", {{"q8_0", 14}, {"f32", 5}}}, {"context_length", 2048},
                                   {"sha256", std::string(64, 'a')}, {"file_bytes", 1500000}, {"kv_cache_bytes", 4000000}}}});
  ApplyEngineEvent(app, {{"event", "prompt"}, {"tokens", {{{"id", 1}, {"text", "<s>"}}, {{"id", 50}, {"text", " The"}}}}});
  for (int i = 0; i < 40; ++i) {
    ApplyEngineEvent(app, {{"event", "token"}, {"id", 100 + i}, {"text", " word"}, {"token_text", " word"},
                           {"prob", (i % 10) / 10.0}, {"alternatives", {{{"id", 100 + i}, {"text", " word"}, {"prob", 0.4}}}}});
  }
  ApplyEngineEvent(app, {{"event", "done"}, {"stop_reason", "max_tokens"}, {"tokens_per_s", 50.0}, {"text", "..."}});
  app.focus_token = 3;
  app.tokens.requested = app.tokens.text;  // no tokenize request: the pieces below stand in
  app.tokens.requested_bos = app.tokens.bos;
  for (int i = 0; i < 12; ++i) {
    app.engine.pieces.push_back({i, i % 3 ? "ab" : " c\n", -1, {}});
    app.engine.piece_bytes.push_back(2);
  }
  for (ViewId view : {ViewId::kModel, ViewId::kGenerate, ViewId::kTokens}) {
    app.view = view;
    RenderFrame(app, 1.0f);
    const std::vector<unsigned char> pixels = RenderFrame(app, 1.0f);
    EXPECT_EQ(glGetError(), static_cast<GLenum>(GL_NO_ERROR));
    EXPECT_EQ(app.view, view);
    const ImVec4 child_bg = ImGui::GetStyle().Colors[ImGuiCol_ChildBg];
    const float panel[3] = {child_bg.x, child_bg.y, child_bg.z};
    EXPECT_GT(DrawnPixels(pixels, fb_width_, 0, fb_height_ / 2, panel), 2000u) << "the lower half shows content";
  }
}

// No GL needed below.

TEST(AppCore, MissingFontFallsBackAndSaysSo) {
  ImGui::CreateContext();
  Fonts fonts;
  LoadFonts(fonts, "/nonexistent/font.ttf", 1.0f);
  EXPECT_NE(fonts.body, nullptr);
  EXPECT_NE(fonts.heading, nullptr);
  EXPECT_TRUE(fonts.path.empty());
  EXPECT_NE(fonts.error.find("/nonexistent/font.ttf"), std::string::npos);
  ImGui::DestroyContext();
}

TEST(AppCore, StatusLineIsHonest) {
  AppState app;
  const std::string line = StatusLine(app);
  EXPECT_NE(line.find(loupe::kVersion), std::string::npos) << line;
  EXPECT_NE(line.find("No model loaded yet"), std::string::npos) << line;
  EXPECT_NE(line.find(ThreadedBuild() ? "(threaded)" : "(single-thread)"), std::string::npos) << line;
  EXPECT_NE(line.find(std::to_string(AvailableThreads())), std::string::npos) << line;
}

TEST(AppCore, ViewsHaveNamesAndSummaries) {
  ASSERT_FALSE(Views().empty());
  for (const ViewInfo& v : Views()) {
    EXPECT_GT(std::strlen(v.name), 0u);
    EXPECT_GT(std::strlen(v.summary), 0u);
  }
}

}  // namespace
}  // namespace loupe::app
