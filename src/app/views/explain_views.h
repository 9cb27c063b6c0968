// The explanation views: Attention, Logit lens and Attribution. They share one explain
// request and its parsed result (ExplainViewsState); each view has its own state struct
// and one Draw function, as imgui_demo.cpp does.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "explain_result.h"

namespace loupe::app {

struct AppState;
class HeatmapRenderer;
struct GlTexture;

enum class AttentionMode { kHead, kMean, kRollout };

struct AttentionViewState {
  int layer = 0, head = 0;
  AttentionMode mode = AttentionMode::kHead;
  int query = -1, key = -1;  // picked cell (-1: none); query is also the arcs' token
  float zoom = 1.0f;         // 1: the matrix fits the panel's width
  bool arcs_from_query = true;
  float pan_x = 0, pan_y = 0;  // first visible key and query (cells) when zoomed in
  std::shared_ptr<HeatmapRenderer> heatmap;  // made on first draw (needs GL)
  std::shared_ptr<GlTexture> thumbnails;     // the layer x head grid as one texture
};

struct LensViewState {
  int layer = -1, position = -1;  // picked cell
  bool probability_of_final = false;  // colour by the final guess's probability instead
};

struct AttributionViewState {
  int method = 0;               // 0 grad_x_input, 1 integrated_gradients, 2 occlusion
  int steps = 32;               // integrated gradients
  char contrast[128] = "";      // optional contrast token (text or id:N)
  char target[128] = "";        // empty: the focus token, else the next token
};

// The explain request and its result, shared by the three views.
struct ExplainViewsState {
  char prompt[4096] = "Hà Nội, Huế, Đà Nẵng are cities in Vietnam. The nurse said that she";
  int request = -1;                   // id of the explain request in flight; -1 none
  std::string requested;              // what was asked, for the reader
  std::optional<ExplainResult> result;
  unsigned generation = 0;            // bumped on every new result (texture uploads)
  std::string error;
  bool use_focus = true;              // explain the Generate view's focus token when there is one
  AttentionViewState attention;
  LensViewState lens;
  AttributionViewState attribution;
};

// The three views.
void DrawAttentionView(AppState& app, AttentionViewState& state);
void DrawLensView(AppState& app, LensViewState& state);
void DrawAttributionView(AppState& app, AttributionViewState& state);

// Sends an explain request for the current text (the Generate view's focus token when
// there is one, else the prompt field). Public for tests and share links.
void RequestExplanation(AppState& app);
// Moves a finished explain event's result into app.explain (once per frame).
void CollectExplanation(AppState& app);
// Replaces the shown result (tests; and results that came another way).
void SetExplanation(AppState& app, ExplainResult result);

}  // namespace loupe::app
