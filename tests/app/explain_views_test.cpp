// The explanation views (Attention, Logit lens, Attribution) with a synthetic
// ExplainResult: they render without GL errors and the heatmap shader draws viridis; the
// explain JSON parser accepts the engine's shapes and rejects broken ones; the colormap
// matches the published viridis table; chart data exports.
#include <SDL.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "app.h"
#include "chart_data.h"
#include "colormap.h"
#include "explain_result.h"
#include "export.h"
#include "gl.h"
#include "heatmap.h"
#include "imgui.h"
#include "imgui_impl_opengl3.h"
#include "imgui_impl_sdl.h"

namespace loupe::app {
namespace {

const std::vector<std::string> kTokens = {"H\xc3\xa0", " N\xe1\xbb\x99i", ",", " Hu\xe1\xba\xbf", ",", " \xc4\x90\xc3\xa0", " N\xe1\xba\xb5ng",
                                          " are", " cities", ".", " The", " nurse", " said", " that", " she"};

// --- no GL --------------------------------------------------------------------------------

TEST(Colormap, EndpointsMatchPublishedViridis) {
  // matplotlib's _viridis_data: first and last entries, and the middle (#21918C).
  const Rgb lo = Viridis(0.0f), hi = Viridis(1.0f), mid = ViridisTable()[128];
  EXPECT_FLOAT_EQ(lo.r, 0.267004f);
  EXPECT_FLOAT_EQ(lo.g, 0.004874f);
  EXPECT_FLOAT_EQ(lo.b, 0.329415f);
  EXPECT_FLOAT_EQ(hi.r, 0.993248f);
  EXPECT_FLOAT_EQ(hi.g, 0.906157f);
  EXPECT_FLOAT_EQ(hi.b, 0.143936f);
  EXPECT_NEAR(mid.r * 255, 0x21, 1.0);
  EXPECT_NEAR(mid.g * 255, 0x91, 1.0);
  EXPECT_NEAR(mid.b * 255, 0x8C, 1.0);
  EXPECT_EQ(ViridisU32(0.0f), 0xFF540144u);  // #440154 as ImGui's ABGR
  EXPECT_EQ(ViridisU32(1.0f), 0xFF25E7FDu);  // #FDE725
  EXPECT_EQ(ViridisU32(std::nanf("")), ViridisU32(0.0f));
  EXPECT_EQ(ViridisU32(-3.0f), ViridisU32(0.0f));
  EXPECT_EQ(ViridisU32(7.0f), ViridisU32(1.0f));
  // Perceptually ordered: lightness rises monotonically.
  float last = -1;
  for (int i = 0; i < kColormapSize; ++i) {
    const Rgb c = ViridisTable()[i];
    const float luma = 0.2126f * c.r + 0.7152f * c.g + 0.0722f * c.b;
    EXPECT_GT(luma, last - 1e-3f) << i;
    last = luma;
  }
}

nlohmann::json EngineShapedJson() {
  // The shapes of src/engine/explain/explain_json.cpp for 2 layers, 2 heads, 3 tokens.
  using nlohmann::json;
  json j;
  j["model"] = {{"name", "tiny"}, {"n_layers", 2}, {"n_heads", 2}};
  j["tokens"] = json::array({{{"id", 5}, {"text", "The"}}, {{"id", 6}, {"text", " nurse"}}, {{"id", 7}, {"text", " said"}}});
  const json m = json::array({{1, 0, 0}, {0.5, 0.5, 0}, {0.2, 0.3, 0.5}});
  j["attention"] = json::array({json::array({m, m}), json::array({m, m})});
  j["attention_layers"] = {0, 1};
  j["attention_heads"] = {0, 1};
  j["attention_summary"] = {{"mean", json::array({m, m})}, {"rollout", json::array({m, m})}, {"value_weighted", json::array()}};
  const json h = {{"entropy", 1.0}, {"prev_token", 0.5}, {"first_token", 0.2}, {"induction", 0.1}};
  j["heads"] = json::array({json::array({h, h}), json::array({h, h})});
  json ids = json::array(), probs = json::array();
  for (int s = 0; s < 3; ++s) {
    ids.push_back(json::array({{9, 8}, {9, 8}, {9, 8}}));
    probs.push_back(json::array({{0.6, 0.3}, {0.6, 0.3}, {0.6, 0.3}}));
  }
  j["lens"] = {{"layers", 3}, {"top_ids", ids}, {"top_probs", probs},
               {"chosen", json::array({{{"id", 9}, {"text", " she"}}, {{"id", 9}, {"text", " she"}}, {{"id", 9}, {"text", " she"}}})},
               {"chosen_probs", json::array({{0.1, 0.2, 0.3}, {0.1, 0.2, 0.3}, {0.1, 0.2, 0.3}})}};
  j["stats"] = json::array({{{"position", 1}, {"id", 6}, {"text", " nurse"}, {"top", json::array({{{"id", 8}, {"text", " he"}, {"prob", 0.3}}})}}});
  j["attribution"] = {{"method", "integrated_gradients"}, {"target_position", 2}, {"target_id", 9}, {"target_text", " she"},
                      {"value", -1.5}, {"scores", {0.1, -0.2, 0.7}}, {"steps", 32}, {"completeness_gap", 0.01},
                      {"contrast_id", 8}, {"contrast_text", " he"}};
  return j;
}

TEST(ExplainResult, ParsesTheEngineShapes) {
  std::string error;
  const auto r = ParseExplainResult(EngineShapedJson(), &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->n(), 3);
  EXPECT_EQ(r->n_layers, 2);
  EXPECT_EQ(r->n_heads, 2);
  ASSERT_NE(r->Attention(1, 1), nullptr);
  EXPECT_FLOAT_EQ(r->Attention(1, 1)[2 * 3 + 2], 0.5f);
  EXPECT_EQ(r->Attention(2, 0), nullptr);
  EXPECT_EQ(r->mean.size(), 2u);
  EXPECT_EQ(r->heads.size(), 4u);
  EXPECT_EQ(r->lens_slots, 3);
  EXPECT_EQ(r->lens_k, 2);
  EXPECT_EQ(r->LensId(2, 1, 0), 9);
  EXPECT_FLOAT_EQ(r->LensProb(2, 1, 1), 0.3f);
  EXPECT_EQ(r->TokenText(9), " she");
  EXPECT_EQ(r->TokenText(8), " he");    // learnt from stats' top list
  EXPECT_EQ(r->TokenText(77), "id:77");  // unknown
  EXPECT_TRUE(r->has_attribution);
  EXPECT_EQ(r->method, "integrated_gradients");
  EXPECT_EQ(r->steps, 32);
  EXPECT_EQ(r->contrast_text, " he");
  EXPECT_EQ(r->scores.size(), 3u);
}

// The lens of some positions (the engine's lens.positions): the arrays span the text,
// LensHeld says which columns hold it, and a later lens of other positions merges in.
TEST(ExplainResult, ALensOfSomePositionsAndItsMerge) {
  using nlohmann::json;
  json j = EngineShapedJson();
  json ids = json::array(), probs = json::array(), texts = json::array();
  for (int s = 0; s < 3; ++s) {
    ids.push_back(json::array({{40 + s, 8}}));
    probs.push_back(json::array({{0.7, 0.2}}));
    texts.push_back(json::array({{" w" + std::to_string(s), " he"}}));
  }
  j["lens"] = {{"layers", 3}, {"top_ids", ids}, {"top_probs", probs}, {"top_texts", texts}, {"positions", {2}},
               {"chosen", json::array({{{"id", 9}, {"text", " she"}}})}, {"chosen_probs", json::array({{0.1}, {0.2}, {0.3}})}};
  std::string error;
  auto r = ParseExplainResult(j, &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->lens_slots, 3);
  EXPECT_EQ(r->lens_k, 2);
  EXPECT_FALSE(r->LensHeld(0));
  EXPECT_FALSE(r->LensHeld(1));
  EXPECT_TRUE(r->LensHeld(2));
  EXPECT_EQ(r->LensId(1, 2, 0), 41);
  EXPECT_FLOAT_EQ(r->LensProb(1, 2, 0), 0.7f);
  EXPECT_EQ(r->TokenText(41), " w1");
  EXPECT_FLOAT_EQ(r->lens_chosen_probs[size_t(2) * 3 + 2], 0.3f);
  EXPECT_EQ(r->lens_chosen[2].text, " she");
  // Exports hold the known columns only.
  const std::string csv = LensCsv(*r);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 3 * 1 * 2);
  EXPECT_EQ(nlohmann::json::parse(LensJson(*r))["positions"], json::array({2}));

  // The lens of positions 0 and 1, computed later, merges in.
  json more = EngineShapedJson();
  more["lens"]["positions"] = {0, 1};
  for (int s = 0; s < 3; ++s) {
    more["lens"]["top_ids"][s] = json::array({{50, 8}, {51, 8}});
    more["lens"]["top_probs"][s] = json::array({{0.5, 0.1}, {0.4, 0.1}});
    more["lens"]["chosen_probs"][s] = json::array({0.05, 0.06});
  }
  more["lens"]["chosen"] = json::array({{{"id", 9}, {"text", " she"}}, {{"id", 8}, {"text", " he"}}});
  auto later = ParseExplainResult(more, &error);
  ASSERT_TRUE(later) << error;
  ASSERT_TRUE(MergeLens(*r, *later));
  for (int p = 0; p < 3; ++p) EXPECT_TRUE(r->LensHeld(p));
  EXPECT_EQ(r->LensId(0, 1, 0), 51);
  EXPECT_EQ(r->LensId(1, 2, 0), 41);  // kept
  EXPECT_FLOAT_EQ(r->lens_chosen_probs[size_t(1) * 3 + 1], 0.06f);
  EXPECT_EQ(r->lens_chosen[1].text, " he");
  // Another text, or positions outside it, do not fit.
  more["tokens"][0]["id"] = 99;
  EXPECT_FALSE(MergeLens(*r, *ParseExplainResult(more, &error)));
  j["lens"]["positions"] = {3};
  EXPECT_FALSE(ParseExplainResult(j, &error));
  EXPECT_NE(error.find("lens.positions"), std::string::npos) << error;
  j["lens"]["positions"] = {2, 2};
  EXPECT_FALSE(ParseExplainResult(j, &error));
}

TEST(ExplainResult, LensGuessesAreNamedByTheEngineTexts) {
  nlohmann::json j = EngineShapedJson();
  nlohmann::json texts = nlohmann::json::array();
  for (int s = 0; s < 3; ++s) texts.push_back(nlohmann::json::array({{" she", " it"}, {" she", " it"}, {" she", " it"}}));
  j["lens"]["top_texts"] = texts;
  j["lens"]["top_ids"][0][0] = {9, 41};  // id 41 appears nowhere else in the result
  std::string error;
  const auto r = ParseExplainResult(j, &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->TokenText(41), " it");
  EXPECT_EQ(r->TokenText(9), " she");
  j["lens"]["top_texts"][1] = nlohmann::json::array({{" she"}});  // wrong shape: refused with a message
  EXPECT_FALSE(ParseExplainResult(j, &error));
  EXPECT_NE(error.find("top_texts"), std::string::npos) << error;
}

TEST(ExplainResult, RejectsBrokenShapesWithAMessage) {
  using nlohmann::json;
  std::vector<std::pair<const char*, json>> broken;
  json j = EngineShapedJson();
  j["attention"][0][1] = json::array({{1, 0}, {0.5, 0.5}});  // a 2x2 matrix among 3x3
  broken.emplace_back("attention", j);
  j = EngineShapedJson();
  j["tokens"] = json::array();
  broken.emplace_back("no tokens", j);
  j = EngineShapedJson();
  j["lens"]["top_ids"][1][2] = json::array({1});  // fewer guesses than k
  broken.emplace_back("lens", j);
  j = EngineShapedJson();
  j["attribution"]["target_position"] = 99;
  broken.emplace_back("attribution", j);
  j = EngineShapedJson();
  j["attention"][0][0][1][1] = "x";
  broken.emplace_back("weight", j);
  j = EngineShapedJson();
  j["attention_layers"] = {0, 1000000};
  broken.emplace_back("layer id", j);
  broken.emplace_back("not an object", json::array());
  broken.emplace_back("null", json());
  for (const auto& [name, doc] : broken) {
    std::string error;
    EXPECT_FALSE(ParseExplainResult(doc, &error)) << name;
    EXPECT_NE(error.find("could not be read"), std::string::npos) << name << ": " << error;
  }
}

TEST(ChartData, ExportsCsvAndJson) {
  const ExplainResult r = SyntheticExplainResult(2, 3, {"a", " \"b\"", "c"});
  const std::string csv = AttentionCsv(r, r.Attention(1, 2));
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "query,query_text,key,key_text,weight");
  EXPECT_NE(csv.find("\" \"\"b\"\"\""), std::string::npos) << csv;  // quotes doubled
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 6);       // causal entries of 3x3
  EXPECT_TRUE(nlohmann::json::parse(AttentionJson(r, r.Attention(0, 0), "x")).is_object());
  const std::string lens = LensCsv(r), attribution = AttributionCsv(r);
  EXPECT_EQ(std::count(lens.begin(), lens.end(), '\n'), 1 + 3 * 3 * 3);
  EXPECT_TRUE(nlohmann::json::parse(LensJson(r))["top"].is_array());
  EXPECT_EQ(std::count(attribution.begin(), attribution.end(), '\n'), 1 + 3);
  EXPECT_EQ(nlohmann::json::parse(AttributionJson(r))["scores"].size(), 3u);
}

TEST(Export, EncodesPng) {
  std::vector<uint8_t> rgba(4 * 3 * 4, 200);
  const std::string png = EncodePng(rgba.data(), 4, 3);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
}

// --- offscreen GL ------------------------------------------------------------------------

class ExplainViewsGl : public ::testing::Test {
 protected:
  static constexpr int kWidth = 1280, kHeight = 800;
  void SetUp() override {
    if (SDL_Init(SDL_INIT_VIDEO) != 0) GTEST_SKIP() << "no display for an OpenGL context: " << SDL_GetError();
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_FLAGS, SDL_GL_CONTEXT_FORWARD_COMPATIBLE_FLAG);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_CORE);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 3);
    window_ = SDL_CreateWindow("loupe_explain_tests", 0, 0, kWidth, kHeight, SDL_WINDOW_OPENGL | SDL_WINDOW_HIDDEN);
    ASSERT_NE(window_, nullptr) << SDL_GetError();
    gl_ = SDL_GL_CreateContext(window_);
    ASSERT_NE(gl_, nullptr) << SDL_GetError();
    SDL_GL_MakeCurrent(window_, gl_);
    ImGui::CreateContext();
    ImGui::GetIO().IniFilename = nullptr;
    ASSERT_TRUE(ImGui_ImplSDL2_InitForOpenGL(window_, gl_));
    ASSERT_TRUE(ImGui_ImplOpenGL3_Init(kGlslVersion));
    ready_ = true;
    glGenTextures(1, &texture_);
    glBindTexture(GL_TEXTURE_2D, texture_);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, kWidth, kHeight, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
    glGenFramebuffers(1, &framebuffer_);
    glBindFramebuffer(GL_FRAMEBUFFER, framebuffer_);
    glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, texture_, 0);
  }
  void TearDown() override {
    app_.reset();  // its GL objects go while the context is current
    if (framebuffer_) glDeleteFramebuffers(1, &framebuffer_);
    if (texture_) glDeleteTextures(1, &texture_);
    if (ready_) {
      ImGui_ImplOpenGL3_Shutdown();
      ImGui_ImplSDL2_Shutdown();
    }
    if (ImGui::GetCurrentContext()) ImGui::DestroyContext();
    if (gl_) SDL_GL_DeleteContext(gl_);
    if (window_) SDL_DestroyWindow(window_);
    SDL_Quit();
  }
  std::vector<unsigned char> Frame(AppState& app) {
    ApplyTheme(app.theme);
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplSDL2_NewFrame();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(kWidth, kHeight);
    io.DisplayFramebufferScale = ImVec2(1, 1);
    ImGui::NewFrame();
    DrawWorkspace(app);
    ImGui::Render();
    glBindFramebuffer(GL_FRAMEBUFFER, framebuffer_);
    glViewport(0, 0, kWidth, kHeight);
    glClearColor(1, 0, 1, 1);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    CaptureCharts(app, kWidth, kHeight, 1.0f);
    std::vector<unsigned char> pixels(size_t(kWidth) * kHeight * 4);
    glReadPixels(0, 0, kWidth, kHeight, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
    return pixels;
  }
  AppState& NewApp() {
    app_ = std::make_unique<AppState>();
    LoadFonts(app_->fonts, std::string(LOUPE_SOURCE_ASSETS_DIR) + "/fonts/NotoSans-Regular.ttf", 1.0f);
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
    return *app_;
  }
  SDL_Window* window_ = nullptr;
  SDL_GLContext gl_ = nullptr;
  bool ready_ = false;
  GLuint framebuffer_ = 0, texture_ = 0;
  std::unique_ptr<AppState> app_;
};

// Pixels within 3 levels of a viridis entry other than the darkest few (which dark themes
// might resemble).
size_t ViridisPixels(const std::vector<unsigned char>& rgba) {
  size_t count = 0;
  for (size_t i = 0; i < rgba.size(); i += 4 * 7) {  // a sample is enough
    for (int e = 40; e < kColormapSize; e += 3) {
      const Rgb c = ViridisTable()[e];
      if (std::abs(rgba[i] - int(c.r * 255 + 0.5f)) <= 3 && std::abs(rgba[i + 1] - int(c.g * 255 + 0.5f)) <= 3 &&
          std::abs(rgba[i + 2] - int(c.b * 255 + 0.5f)) <= 3) {
        ++count;
        break;
      }
    }
  }
  return count;
}

// With LOUPE_SCREENSHOTS=dir, the frames are written there as PNG (to look at them).
void SaveScreenshot(const std::vector<unsigned char>& rgba, const std::string& name) {
  const char* dir = std::getenv("LOUPE_SCREENSHOTS");
  if (!dir) return;
  const int w = 1280, h = 800;
  std::vector<unsigned char> rows(rgba.size());
  for (int y = 0; y < h; ++y) std::copy_n(&rgba[size_t(h - 1 - y) * w * 4], size_t(w) * 4, &rows[size_t(y) * w * 4]);
  const std::string png = EncodePng(rows.data(), w, h);
  if (std::FILE* f = std::fopen((std::string(dir) + "/native-" + name + ".png").c_str(), "wb")) {
    std::fwrite(png.data(), 1, png.size(), f);
    std::fclose(f);
  }
}

TEST_F(ExplainViewsGl, ShadersCompileForThisContext) {
  HeatmapRenderer renderer;
  ASSERT_TRUE(renderer.Init()) << renderer.error();
  const float m[4] = {1, 0, 0.25f, 0.75f};
  renderer.Upload(m, 2, 2, 1);
  HeatmapRenderer::View view;
  const unsigned texture = renderer.Render(64, 64, view);
  ASSERT_NE(texture, 0u) << renderer.error();
  EXPECT_EQ(glGetError(), static_cast<GLenum>(GL_NO_ERROR));
}

TEST_F(ExplainViewsGl, ViewsRenderASyntheticResult) {
  for (ViewId view : {ViewId::kAttention, ViewId::kLens, ViewId::kAttribution}) {
    for (Theme theme : {Theme::kDark, Theme::kLight}) {
      AppState& app = NewApp();
      app.view = view;
      app.theme = theme;
      SetExplanation(app, SyntheticExplainResult(4, 6, kTokens));
      app.explain.attention.query = 14;
      app.explain.attention.key = 11;
      Frame(app);
      const std::vector<unsigned char> pixels = Frame(app);
      EXPECT_EQ(glGetError(), static_cast<GLenum>(GL_NO_ERROR)) << int(view);
      SaveScreenshot(pixels, std::string(view == ViewId::kAttention ? "attention" : view == ViewId::kLens ? "lens" : "attribution") +
                                 (theme == Theme::kDark ? "-dark" : "-light"));
      if (view != ViewId::kAttribution) EXPECT_GT(ViridisPixels(pixels), 500u) << "view " << int(view) << ": no viridis cells drawn";
      if (view == ViewId::kAttention) {
        ASSERT_TRUE(app.explain.attention.heatmap);
        EXPECT_TRUE(app.explain.attention.heatmap->ready()) << app.explain.attention.heatmap->error();
      }
      // Mean and rollout draw too.
      app.explain.attention.mode = AttentionMode::kRollout;
      Frame(app);
      EXPECT_EQ(glGetError(), static_cast<GLenum>(GL_NO_ERROR));
    }
  }
}

TEST_F(ExplainViewsGl, LongPromptsRenderZoomed) {
  AppState& app = NewApp();
  std::vector<std::string> tokens;
  for (int i = 0; i < 300; ++i) tokens.push_back(" w" + std::to_string(i));
  SetExplanation(app, SyntheticExplainResult(2, 2, tokens));
  app.view = ViewId::kAttention;
  app.explain.attention.zoom = 10;
  app.explain.attention.pan_x = 100;
  app.explain.attention.pan_y = 120;
  Frame(app);
  Frame(app);
  EXPECT_EQ(glGetError(), static_cast<GLenum>(GL_NO_ERROR));
  app.view = ViewId::kLens;
  Frame(app);
  EXPECT_EQ(glGetError(), static_cast<GLenum>(GL_NO_ERROR));
  // The lens view measures how many columns fit (Explain asks for that many), and draws
  // the columns whose lens is still to come as placeholders.
  EXPECT_EQ(app.explain.lens.columns, 15) << "a 1280-pixel window (what bench-explain's one screen assumes)";
  std::fill(app.explain.result->lens_held.begin(), app.explain.result->lens_held.end() - 1, 0);
  Frame(app);
  SaveScreenshot(Frame(app), "lens-lazy");
  EXPECT_EQ(glGetError(), static_cast<GLenum>(GL_NO_ERROR));
  EXPECT_EQ(app.explain.lens.request, -1) << "no model loaded: nothing to ask";
}

TEST_F(ExplainViewsGl, PngExportOfAChart) {
  AppState& app = NewApp();
  SetExplanation(app, SyntheticExplainResult(2, 2, kTokens));
  app.view = ViewId::kAttention;
  Frame(app);
  const std::string name = "loupe-test-heatmap-" + std::to_string(::getpid()) + ".png";
  RequestPng(app, "attention-heatmap", name);
  Frame(app);
  EXPECT_NE(app.exports.message.find("Saved"), std::string::npos) << app.exports.message;
  std::FILE* f = std::fopen(name.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  char magic[8] = {};
  EXPECT_EQ(std::fread(magic, 1, 8, f), 8u);
  std::fclose(f);
  std::remove(name.c_str());
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
}

}  // namespace
}  // namespace loupe::app
