// One function and one state struct per view (see imgui_demo.cpp for the pattern).
// Each function draws the body of its view into the current ImGui window.
#pragma once
#include <string>

namespace loupe::app {

struct AppState;

// Start: what Loupe is, what works in this build and what comes next.
struct StartViewState {};
void DrawStartView(AppState& app, StartViewState& state);

// Model: bundled models, a URL, a file (picker or drag and drop), the model card, and
// (web) the models kept in the browser's cache.
struct ModelViewState {
  char url[1024] = "";
  char path[1024] = "";  // natively: a file to open
};
void DrawModelView(AppState& app, ModelViewState& state);

// Generate: prompt, sampling settings, Generate/Stop, tokens shaded by probability or
// surprisal with their alternatives on hover; a click makes a token the focus.
struct GenerateViewState {
  char prompt[4096] = "The old lighthouse keeper";
  int max_tokens = 48;
  int seed = 42;
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.1f;
  bool chat = false;
  bool surprisal = false;  // shade by surprisal (bits) instead of probability
};
void DrawGenerateView(AppState& app, GenerateViewState& state);

// Tokens: how a text splits into tokens (boundaries, ids, bytes).
struct TokensViewState {
  char text[2048] = "Loupe splits text into tokens: unbelievable, Xin chào, 12345.";
  bool bos = false;
  std::string requested;  // the text of the last tokenize request
  bool requested_bos = false;
};
void DrawTokensView(AppState& app, TokensViewState& state);

// System: the build, the graphics context, threads, pixel ratio and fonts, plus a text
// field to check that the font covers what people type.
struct SystemViewState {
  char sample[256] = "Xin chào! Tiếng Việt: ă â đ ê ô ơ ư ạ ả ấ ầ ẩ ẫ ậ — Ça va? Zürich, Łódź";
};
void DrawSystemView(AppState& app, SystemViewState& state);

}  // namespace loupe::app
