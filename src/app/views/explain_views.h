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

// The lens is lazy: computing it costs one unembedding (vocabulary x width multiply-adds)
// per layer and position, several forward passes for a whole long text, so the engine
// computes the positions this view shows. Explain asks for the last `columns` positions
// (the view opens at the end of the text); scrolling asks for the columns that come into
// view, one request at a time.
struct LensViewState {
  int layer = -1, position = -1;  // picked cell
  bool probability_of_final = false;  // colour by the final guess's probability instead
  int columns = 0;               // columns the last frame showed at most, whole or in part (0: never drawn)
  int request = -1;              // id of the lens request in flight; -1 none
  unsigned requested_for = 0;    // the explanation (ExplainViewsState::generation) it is for
  unsigned scrolled_for = 0;     // the explanation the view last placed its scroll for
  unsigned failed_for = 0;       // the explanation whose lens request failed (not asked again)
  std::string error;             // why it failed
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
// The explain request RequestExplanation sends now (tests).
nlohmann::json ExplanationRequest(const AppState& app);
// Positions in [first, last] the shown lens lacks; asks the engine for them (one request
// at a time) unless one is in flight or failed for this explanation. Returns the request
// id, or -1 when nothing was sent. The Logit-lens view calls it with the columns in view.
int RequestLensColumns(AppState& app, int first, int last);
// Moves a finished explain event's result into app.explain (once per frame).
void CollectExplanation(AppState& app);
// Replaces the shown result (tests; and results that came another way).
void SetExplanation(AppState& app, ExplainResult result);

}  // namespace loupe::app
