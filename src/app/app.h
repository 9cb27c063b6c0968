// The app's platform-independent half: its state and the function that draws a frame.
// main.cpp owns the window, the GL context and the frame loop, fills PlatformInfo, and
// calls DrawWorkspace between ImGui::NewFrame() and ImGui::Render().
#pragma once
#include <span>
#include <string>

#include "engine_state.h"
#include "export.h"
#include "share_link.h"
#include "theme.h"
#include "views/views.h"
#include "views/explain_views.h"

namespace loupe::app {

// What the platform layer knows about where the app runs; shown in the status line and
// the System view. Nothing here is guessed: unknown stays empty.
struct PlatformInfo {
  std::string platform;  // "Web (WebAssembly)" or "Native (Linux)"
  std::string gl_version;
  std::string gl_renderer;
  std::string glsl_version;
  std::string sdl_version;
  bool web = false;
};

// Threads the engine may use in this build: 1 in the single-thread web build, the
// browser's or machine's logical cores otherwise.
int AvailableThreads();
// True for builds with threads (native, and the web build with pthreads).
bool ThreadedBuild();

// The views of the workspace, in the order of the navigation.
enum class ViewId { kStart, kModel, kGenerate, kTokens, kAttention, kLens, kAttribution, kLessons, kSystem };

struct ViewInfo {
  ViewId id;
  const char* name;     // label in the navigation
  const char* summary;  // one sentence: what the view is for
};
std::span<const ViewInfo> Views();

// Views on the product map that later issues add: listed (disabled) in the navigation so
// the map is visible, never drawn with made-up content.
struct PlannedView {
  const char* name;
  const char* summary;
};
std::span<const PlannedView> PlannedViews();

// Everything the UI remembers between frames.
struct AppState {
  ViewId view = ViewId::kStart;
  Theme theme = Theme::kDark;
  bool theme_changed = false;  // set by the UI; main.cpp re-applies the style and clear colour
  bool show_shortcuts = false; // the list of keyboard shortcuts (F1 or ?; shortcuts.h)
  PlatformInfo platform;
  Fonts fonts;
  StartViewState start;
  ModelViewState model;
  GenerateViewState generate;
  TokensViewState tokens;
  EngineState engine;   // the engine client and what its events said (engine_state.h)
  int focus_token = -1; // index into engine.tokens: the generated token the views focus on
  SystemViewState system;
  ExplainViewsState explain;  // Attention, Logit lens, Attribution (views/explain_views.h)
  LessonsViewState lessons;   // the two-cities lesson (views/lessons.cpp)
  ExportState exports;        // PNG captures wanted this frame, the last export's message
  // Share links (share_link.h): the link the app was opened with, and what it said.
  std::string startup_link;   // natively `loupe --link '#v=1&...'`; the page's location.hash on the web
  bool link_checked = false;
  ShareState link;            // the restored state (its model opens once the engine is up)
  bool link_model_pending = false;
  std::string link_message;   // shown above the view until dismissed
  bool link_error = false;
};

// Share links: the app's state now, as a ShareState and as a link ("Copy link"); a
// decoded state applied; and the start-up link read and applied (once; DrawWorkspace).
ShareState CurrentShareState(const AppState& app);
std::string CurrentShareLink(const AppState& app);
void ApplyShareState(AppState& app, const ShareState& state);
void CheckShareLink(AppState& app);

// One frame of the whole workspace: navigation on the left, the selected view, and the
// status line at the bottom. Fills the main viewport.
void DrawWorkspace(AppState& app);
// Just the body of one view (the workspace calls this for the selected one).
void DrawView(AppState& app, ViewId view);

// The one-line summary of the engine shown at the bottom of every view.
std::string StatusLine(const AppState& app);

}  // namespace loupe::app
