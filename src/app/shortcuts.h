// Keyboard shortcuts: one table (Shortcuts()) that the help panel, the tooltips and the
// handler all read, so what the panel lists is what the keys do.
//
//   Ctrl+1 … Ctrl+9   switch view (the navigation's order; Cmd on macOS); a plain digit
//                     does the same when no text field has the keyboard
//   Ctrl+Enter        Generate in Generate; Explain in Attention, Logit lens, Attribution
//   Esc               stop the generation; close this list
//   F1 or ?           show or hide the list of shortcuts
//   Left / Right      move the selected token (focus token; the attention query or key;
//                     the logit lens position)
//   [ and ]           previous / next layer (Attention, Logit lens)
//   , and .           previous / next head (Attention)
//   - and =           zoom the attention heatmap out / in; 0 resets it
//   A                 arcs: the keys the token reads / the later queries that read it
//   T                 light or dark theme
// Keys without Ctrl are ignored while a text field has the keyboard.
#pragma once
#include <span>

namespace loupe::app {

struct AppState;

struct Shortcut {
  const char* keys;    // as shown: "Ctrl+Enter"
  const char* action;  // what it does, one line
};
std::span<const Shortcut> Shortcuts();

// The keys of one view's switch, "Ctrl+3"; empty past the ninth view.
const char* ViewShortcut(int view_index);

// Reads this frame's keys (ImGui::GetIO()) and applies them to `app`. Called once per
// frame by DrawWorkspace before the views draw.
void HandleShortcuts(AppState& app);

// The list of shortcuts as a window over the workspace, while app.show_shortcuts.
void DrawShortcutHelp(AppState& app);

}  // namespace loupe::app
