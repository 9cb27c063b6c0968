// Keyboard shortcuts (shortcuts.h). ImGui 1.86 indexes io.KeysDown by the platform's key
// codes, which are SDL scancodes in both our backends (SDL2 natively and on the web), so
// keys outside ImGui's small named set are read by scancode here.
#include "shortcuts.h"

#include <SDL_scancode.h>

#include <algorithm>

#include "app.h"
#include "engine_state.h"
#include "imgui.h"
#include "ui.h"
#include "views/explain_views.h"

namespace loupe::app {

namespace {

const Shortcut kShortcuts[] = {
    {"Ctrl+1 \xe2\x80\xa6 Ctrl+9 or 1 \xe2\x80\xa6 9", "Switch view, in the navigation's order (Cmd on macOS; a plain digit when no text field has the keyboard)"},
    {"Ctrl+Enter", "Generate (Generate view); Explain (Attention, Logit lens, Attribution)"},
    {"Esc", "Stop the generation; close this list"},
    {"F1 or ?", "Show or hide this list"},
    {"Left / Right", "Move the selected token: the focus token, the attention query (or key), the lens position"},
    {"[ and ]", "Previous / next layer (Attention, Logit lens)"},
    {", and .", "Previous / next head (Attention)"},
    {"- and =", "Zoom the attention heatmap out / in; 0 resets it"},
    {"A", "Arcs: the keys the chosen token reads, or the later tokens that read it"},
    {"T", "Light or dark theme"},
};

const char* const kViewKeys[] = {"Ctrl+1", "Ctrl+2", "Ctrl+3", "Ctrl+4", "Ctrl+5", "Ctrl+6", "Ctrl+7", "Ctrl+8", "Ctrl+9"};

bool Pressed(int scancode) { return ImGui::IsKeyPressed(scancode, true); }
bool PressedOnce(int scancode) { return ImGui::IsKeyPressed(scancode, false); }

// A typed character this frame ('?' needs Shift on most layouts, so it is read as text).
bool Typed(ImWchar c) {
  const ImGuiIO& io = ImGui::GetIO();
  return std::find(io.InputQueueCharacters.begin(), io.InputQueueCharacters.end(), c) != io.InputQueueCharacters.end();
}

bool ExplainView(ViewId v) { return v == ViewId::kAttention || v == ViewId::kLens || v == ViewId::kAttribution; }

// Moves the selected token of the current view by `step`.
void MoveToken(AppState& app, int step) {
  const int n = app.explain.result ? app.explain.result->n() : 0;
  if (app.view == ViewId::kAttention && n > 0) {
    AttentionViewState& s = app.explain.attention;
    int& t = s.arcs_from_query ? s.query : s.key;
    t = std::clamp(t < 0 ? (step < 0 ? n - 1 : 0) : t + step, 0, n - 1);
    if (s.arcs_from_query && s.key > s.query) s.key = -1;  // a query cannot see later keys
    return;
  }
  if (app.view == ViewId::kLens && n > 0) {
    LensViewState& s = app.explain.lens;
    s.position = std::clamp(s.position < 0 ? (step < 0 ? n - 1 : 0) : s.position + step, 0, n - 1);
    return;
  }
  const int generated = int(app.engine.tokens.size());
  if (generated == 0) return;
  app.focus_token = std::clamp(app.focus_token < 0 ? (step < 0 ? generated - 1 : 0) : app.focus_token + step, 0, generated - 1);
}

// Steps the layer (or head) of the current explain view through the ones the result holds.
void MoveLayer(AppState& app, int step) {
  if (!app.explain.result) return;
  const ExplainResult& r = *app.explain.result;
  if (app.view == ViewId::kAttention && !r.attention_layers.empty()) {
    int& layer = app.explain.attention.layer;
    auto it = std::find(r.attention_layers.begin(), r.attention_layers.end(), layer);
    const int i = it == r.attention_layers.end() ? 0 : int(it - r.attention_layers.begin());
    layer = r.attention_layers[size_t(std::clamp(i + step, 0, int(r.attention_layers.size()) - 1))];
  } else if (app.view == ViewId::kLens && r.lens_slots > 0) {
    LensViewState& s = app.explain.lens;
    s.layer = std::clamp(s.layer < 0 ? 0 : s.layer + step, 0, r.lens_slots - 1);
  }
}

void MoveHead(AppState& app, int step) {
  if (app.view != ViewId::kAttention || !app.explain.result || app.explain.result->attention_heads.empty()) return;
  const std::vector<int>& heads = app.explain.result->attention_heads;
  AttentionViewState& s = app.explain.attention;
  auto it = std::find(heads.begin(), heads.end(), s.head);
  const int i = it == heads.end() ? 0 : int(it - heads.begin());
  s.head = heads[size_t(std::clamp(i + step, 0, int(heads.size()) - 1))];
  s.mode = AttentionMode::kHead;
}

}  // namespace

std::span<const Shortcut> Shortcuts() { return kShortcuts; }

const char* ViewShortcut(int view_index) {
  return view_index >= 0 && view_index < int(std::size(kViewKeys)) ? kViewKeys[view_index] : "";
}

void HandleShortcuts(AppState& app) {
  const ImGuiIO& io = ImGui::GetIO();
  // Cmd on macOS: ImGui swaps it into KeyCtrl when ConfigMacOSXBehaviors is set, and
  // browsers on macOS report it as Super.
  const bool command = io.KeyCtrl || io.KeySuper;

  const std::span<const ViewInfo> views = Views();
  // Ctrl+digit anywhere; a plain digit too when no text field has the keyboard (some
  // browsers keep Ctrl+digit for their own tabs).
  if (command || !(io.WantTextInput || io.KeyAlt)) {
    for (int i = 0; i < 9 && i < int(views.size()); ++i) {
      if (PressedOnce(SDL_SCANCODE_1 + i)) app.view = views[size_t(i)].id;
    }
  }
  if (command) {
    if (PressedOnce(SDL_SCANCODE_RETURN) || PressedOnce(SDL_SCANCODE_KP_ENTER)) {
      const EngineState& e = app.engine;
      const bool model = e.card.is_object() && !e.loading && !e.generating;
      if (app.view == ViewId::kGenerate && model && app.generate.prompt[0]) StartGeneration(app);
      if (ExplainView(app.view) && model && app.explain.request < 0) RequestExplanation(app);
    }
  }
  if (PressedOnce(SDL_SCANCODE_ESCAPE)) {
    if (app.show_shortcuts) app.show_shortcuts = false;
    else if (app.engine.generating) StopGeneration(app);
  }
  if (PressedOnce(SDL_SCANCODE_F1)) app.show_shortcuts = !app.show_shortcuts;

  // The rest are plain keys: a text field that has the keyboard keeps them.
  if (io.WantTextInput || command || io.KeyAlt) return;
  if (Typed('?')) app.show_shortcuts = !app.show_shortcuts;
  if (Pressed(SDL_SCANCODE_LEFT)) MoveToken(app, -1);
  if (Pressed(SDL_SCANCODE_RIGHT)) MoveToken(app, +1);
  if (Pressed(SDL_SCANCODE_LEFTBRACKET)) MoveLayer(app, -1);
  if (Pressed(SDL_SCANCODE_RIGHTBRACKET)) MoveLayer(app, +1);
  if (Pressed(SDL_SCANCODE_COMMA)) MoveHead(app, -1);
  if (Pressed(SDL_SCANCODE_PERIOD)) MoveHead(app, +1);
  AttentionViewState& a = app.explain.attention;
  if (app.view == ViewId::kAttention) {
    if (Pressed(SDL_SCANCODE_EQUALS) || Pressed(SDL_SCANCODE_KP_PLUS)) a.zoom *= 1.25f;  // clamped where drawn
    if (Pressed(SDL_SCANCODE_MINUS) || Pressed(SDL_SCANCODE_KP_MINUS)) a.zoom = std::max(1.0f, a.zoom * 0.8f);
    if (PressedOnce(SDL_SCANCODE_0)) a.zoom = 1, a.pan_x = a.pan_y = 0;
    if (PressedOnce(SDL_SCANCODE_A)) a.arcs_from_query = !a.arcs_from_query;
  }
  if (PressedOnce(SDL_SCANCODE_T)) {
    app.theme = app.theme == Theme::kDark ? Theme::kLight : Theme::kDark;
    app.theme_changed = true;
  }
}

void DrawShortcutHelp(AppState& app) {
  if (!app.show_shortcuts) return;
  const ImGuiViewport* viewport = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(ImVec2(viewport->WorkPos.x + viewport->WorkSize.x * 0.5f, viewport->WorkPos.y + viewport->WorkSize.y * 0.5f),
                          ImGuiCond_Always, ImVec2(0.5f, 0.5f));
  ImGui::SetNextWindowSizeConstraints(ImVec2(0, 0), ImVec2(viewport->WorkSize.x * 0.9f, viewport->WorkSize.y * 0.9f));
  const ImGuiWindowFlags flags = ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoCollapse;
  if (ImGui::Begin("Keyboard shortcuts", &app.show_shortcuts, flags)) {
    Caption(app, "Keys without Ctrl do nothing while a text field has the keyboard (click outside it first).");
    if (ImGui::BeginTable("shortcuts", 2, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV)) {
      ImGui::TableSetupColumn("Keys", ImGuiTableColumnFlags_WidthFixed);
      ImGui::TableSetupColumn("Action", ImGuiTableColumnFlags_WidthFixed, ImGui::GetFontSize() * 34);
      ImGui::TableHeadersRow();
      for (const Shortcut& s : kShortcuts) {
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        ImGui::TextUnformatted(s.keys);
        ImGui::TableSetColumnIndex(1);
        ImGui::TextWrapped("%s", s.action);
      }
      ImGui::EndTable();
    }
    if (ImGui::Button("Close (Esc)")) app.show_shortcuts = false;
  }
  ImGui::End();
}

}  // namespace loupe::app
