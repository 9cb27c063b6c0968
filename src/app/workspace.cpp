// The workspace frame: navigation, the selected view, the status line.
#include <algorithm>
#include <cstdio>
#include <thread>

#include "app.h"
#include "core/version.h"
#include "imgui.h"
#include "shortcuts.h"
#include "ui.h"

#if defined(__EMSCRIPTEN__) && defined(LOUPE_THREADED)
#include <emscripten/threading.h>
#endif

namespace loupe::app {

namespace {

const ViewInfo kViews[] = {
    {ViewId::kStart, "Start", "What Loupe is, and what this build can do."},
    {ViewId::kModel, "Model", "Choose a model and read its card."},
    {ViewId::kGenerate, "Generate", "Type a prompt and watch tokens stream, shaded by probability."},
    {ViewId::kTokens, "Tokens", "How text splits into tokens: boundaries, ids, bytes."},
    {ViewId::kAttention, "Attention", "What each head attends to: grids, heatmaps, arcs."},
    {ViewId::kLens, "Logit lens", "The model's best guess after every layer."},
    {ViewId::kAttribution, "Attribution", "Which input tokens drove a chosen output token."},
    {ViewId::kLessons, "Lessons", "Two cities: a known skew in the data, the bias it leaves in a model; retrain your own."},
    {ViewId::kSystem, "System", "The build, graphics, threads and fonts Loupe runs with."},
};

const PlannedView kPlannedViews[] = {
    {"Bias lab", "Probe suites with uncertainty, side by side."},
    {"Misuse lab", "Attacks, safeguards, and where the safeguards fail."},
    {"Audit", "Every generation logged, exportable and replayable."},
    {"Lesson presets", "Presets for workshops, shared as links."},
};

constexpr float kNavWidth = 190.0f;

void DrawNavigation(AppState& app) {
  const Palette& palette = ThemePalette(app.theme);
  ImGui::PushFont(app.fonts.heading);
  ImGui::PushStyleColor(ImGuiCol_Text, palette.accent);
  ImGui::TextUnformatted("Loupe");
  ImGui::PopStyleColor();
  ImGui::PopFont();
  Caption(app, "a glass box for small open language models");
  ImGui::Spacing();

  for (const ViewInfo& view : kViews) {
    if (ImGui::Selectable(view.name, app.view == view.id, 0, ImVec2(0, ImGui::GetFrameHeight()))) {
      app.view = view.id;
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s  (%s)", view.summary, ViewShortcut(int(&view - kViews)));
  }

  ImGui::Spacing();
  ImGui::PushStyleColor(ImGuiCol_Text, palette.muted);
  ImGui::TextUnformatted("Coming in later issues");
  ImGui::PopStyleColor();
  for (const PlannedView& view : kPlannedViews) {
    ImGui::BeginDisabled();
    ImGui::Selectable(view.name, false, 0, ImVec2(0, ImGui::GetFrameHeight()));
    ImGui::EndDisabled();
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
      ImGui::SetTooltip("%s\nNot in this build yet.", view.summary);
    }
  }

  // The theme switch sits at the bottom of the navigation.
  const float button_height = ImGui::GetFrameHeightWithSpacing();
  ImGui::SetCursorPosY(std::max(ImGui::GetCursorPosY(), ImGui::GetWindowHeight() - 2 * button_height - ImGui::GetStyle().WindowPadding.y));
  if (ImGui::Button("Shortcuts (F1)", ImVec2(-FLT_MIN, 0))) app.show_shortcuts = !app.show_shortcuts;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("The keyboard shortcuts (F1 or ?)");
  const char* label = app.theme == Theme::kDark ? "Light theme" : "Dark theme";
  if (ImGui::Button(label, ImVec2(-FLT_MIN, 0))) {
    app.theme = app.theme == Theme::kDark ? Theme::kLight : Theme::kDark;
    app.theme_changed = true;
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Switch the theme (T)");
}

// What a shared link did on start: restored, or why it was ignored. Dismissible.
void DrawLinkBanner(AppState& app) {
  if (app.link_message.empty()) return;
  const Palette& palette = ThemePalette(app.theme);
  ImGui::PushStyleColor(ImGuiCol_Text, app.link_error ? palette.warning : palette.accent);
  ImGui::TextWrapped("%s", app.link_message.c_str());
  ImGui::PopStyleColor();
  if (app.link_model_pending && app.link.model.rfind("https://", 0) == 0) {
    ImGui::TextWrapped("The link names a model at %s. Loupe downloads it only if you ask.", app.link.model.c_str());
    if (ImGui::Button("Open that model")) {
      OpenModel(app, app.link.model);
      app.link_model_pending = false;
    }
    ImGui::SameLine();
  }
  if (ImGui::SmallButton("Dismiss")) app.link_message.clear();
  ImGui::Separator();
}

void DrawStatusLine(const AppState& app) {
  const Palette& palette = ThemePalette(app.theme);
  ImGui::PushStyleColor(ImGuiCol_Text, palette.muted);
  ImGui::TextUnformatted(StatusLine(app).c_str());
  ImGui::PopStyleColor();

  char fps[32];
  std::snprintf(fps, sizeof fps, "%.0f fps", ImGui::GetIO().Framerate);
  const float width = ImGui::CalcTextSize(fps).x;
  const float right = ImGui::GetWindowContentRegionMax().x - width;
  if (right > ImGui::GetItemRectMax().x - ImGui::GetWindowPos().x + 20.0f) {
    ImGui::SameLine(right);
    ImGui::TextDisabled("%s", fps);
  }
}

}  // namespace

std::span<const ViewInfo> Views() { return kViews; }
std::span<const PlannedView> PlannedViews() { return kPlannedViews; }

bool ThreadedBuild() {
#ifdef LOUPE_THREADED
  return true;
#else
  return false;
#endif
}

int AvailableThreads() {
#if defined(__EMSCRIPTEN__) && defined(LOUPE_THREADED)
  return std::max(1, emscripten_num_logical_cores());
#elif defined(__EMSCRIPTEN__)
  return 1;
#else
  return std::max(1u, std::thread::hardware_concurrency());
#endif
}

std::string StatusLine(const AppState& app) {
  // The engine's own report once it has started (the Web Worker may differ from the page).
  const int threads = app.engine.ready ? app.engine.threads : AvailableThreads();
  const bool threaded = app.engine.ready ? app.engine.threaded : ThreadedBuild();
  std::string line = "Loupe engine ";
  line += loupe::kVersion;
  line += "  \xc2\xb7  ";  // U+00B7 middle dot
  line += std::to_string(threads);
  line += threads == 1 ? " thread (" : " threads (";
  line += threaded ? "threaded)" : "single-thread)";
  line += "  \xc2\xb7  ";
  if (app.engine.card.is_object()) {
    line += "Model: " + app.engine.card.value("name", std::string("(unnamed)"));
    if (app.engine.generating) line += "  \xc2\xb7  generating";
  } else if (app.engine.loading) {
    line += "Loading a model\xe2\x80\xa6";
  } else {
    line += "No model loaded yet \xe2\x80\x94 open one in the Model view";
  }
  return line;
}

void DrawView(AppState& app, ViewId view) {
  switch (view) {
    case ViewId::kStart: DrawStartView(app, app.start); break;
    case ViewId::kModel: DrawModelView(app, app.model); break;
    case ViewId::kGenerate: DrawGenerateView(app, app.generate); break;
    case ViewId::kTokens: DrawTokensView(app, app.tokens); break;
    case ViewId::kAttention: DrawAttentionView(app, app.explain.attention); break;
    case ViewId::kLens: DrawLensView(app, app.explain.lens); break;
    case ViewId::kAttribution: DrawAttributionView(app, app.explain.attribution); break;
    case ViewId::kLessons: DrawLessonsView(app, app.lessons); break;
    case ViewId::kSystem: DrawSystemView(app, app.system); break;
  }
}

void DrawWorkspace(AppState& app) {
  PumpEngine(app);
  CheckShareLink(app);
  HandleShortcuts(app);
  const ImGuiViewport* viewport = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(viewport->WorkPos);
  ImGui::SetNextWindowSize(viewport->WorkSize);
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                 ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus |
                                 ImGuiWindowFlags_NoResize;
  ImGui::Begin("Loupe workspace", nullptr, flags);

  const ImGuiStyle& style = ImGui::GetStyle();
  const float status_height = ImGui::GetTextLineHeight() + style.ItemSpacing.y + 1.0f;
  const float body_height = -status_height - style.ItemSpacing.y;

  ImGui::BeginChild("navigation", ImVec2(kNavWidth, body_height), true);
  DrawNavigation(app);
  ImGui::EndChild();

  ImGui::SameLine();
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(20, 16));
  ImGui::BeginChild("view", ImVec2(0, body_height), true);
  DrawLinkBanner(app);
  DrawView(app, app.view);
  ImGui::EndChild();
  ImGui::PopStyleVar();

  ImGui::Separator();
  DrawStatusLine(app);
  ImGui::End();
  DrawShortcutHelp(app);
}

}  // namespace loupe::app
