// One function and one state struct per view (see imgui_demo.cpp for the pattern).
// Each function draws the body of its view into the current ImGui window.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

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

// Lessons: the two-cities lesson. The bundled pair's known data skew beside the pronoun
// bias measured in each model (chart and table), and a model of the user's own retrained
// at a skew they choose (the engine's "train" op), with progress, time left and Cancel.
struct LessonsViewState {
  float skew = 0.8f;  // she-share of nurses' and teachers' stories (train/two_cities.h)
  int steps = 400;
  // The running training, or the last one.
  bool training = false;
  int step = 0, steps_total = 0;
  double loss = 0, tokens_per_s = 0, seconds_left = -1, elapsed_s = 0;
  int progress_events = 0;
  std::string status;  // "Cancelled at step 12 of 400."
  std::string error;
  // The user's model, once trained: per occupation, in two_cities_occupations() order.
  bool have_result = false;
  double result_skew = 0, result_aligned = 0, result_rank = 0, result_seconds = 0;
  int result_steps = 0;
  std::vector<double> result_bias, result_share, result_data_log_odds;
};
void DrawLessonsView(AppState& app, LessonsViewState& state);
// The engine's train_* events (and errors of the "train" op) update the lesson.
void ApplyLessonEvent(AppState& app, const nlohmann::json& event);

}  // namespace loupe::app
