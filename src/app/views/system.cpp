// System: facts about the build and the machine, as measured by this process.
#include <cstdio>

#include "app.h"
#include "core/version.h"
#include "imgui.h"
#include "ui.h"

namespace loupe::app {

namespace {

void Row(const char* key, const std::string& value) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextUnformatted(key);
  ImGui::TableSetColumnIndex(1);
  ImGui::TextWrapped("%s", value.empty() ? "(unknown)" : value.c_str());
}

std::string Format(const char* format, double a, double b) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, a, b);
  return buffer;
}

}  // namespace

void DrawSystemView(AppState& app, SystemViewState& state) {
  ViewHeading(app, "System", "The build, graphics, threads and fonts Loupe runs with.");
  const ImGuiIO& io = ImGui::GetIO();
  const PlatformInfo& p = app.platform;

  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp;
  if (ImGui::BeginTable("system", 2, flags)) {
    ImGui::TableSetupColumn("key", ImGuiTableColumnFlags_WidthFixed, 170.0f);
    ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch);
    Row("Engine", std::string("Loupe ") + loupe::kVersion);
    Row("Platform", p.platform);
    const int threads = AvailableThreads();
    Row("Threads", std::to_string(threads) + (ThreadedBuild() ? " (threaded build)" : " (single-thread build)"));
    Row("Graphics", p.gl_version);
    Row("Renderer", p.gl_renderer);
    Row("Shading language", p.glsl_version);
    Row("SDL", p.sdl_version);
    Row("Dear ImGui", IMGUI_VERSION);
    Row("Window", Format("%.0f x %.0f UI pixels", io.DisplaySize.x, io.DisplaySize.y));
    Row("Pixel ratio", Format("%.2g device pixels per UI pixel (framebuffer %.0f wide)", io.DisplayFramebufferScale.x,
                              io.DisplaySize.x * io.DisplayFramebufferScale.x));
    Row("Font", app.fonts.error.empty() ? app.fonts.path : "built-in ASCII font: " + app.fonts.error);
    Row("Theme", ThemeName(app.theme));
    ImGui::EndTable();
  }

  ImGui::Spacing();
  ImGui::PushFont(app.fonts.heading);
  ImGui::TextUnformatted("Font check");
  ImGui::PopFont();
  ImGui::SameLine();
  HelpMarker("The UI font covers Latin, Latin Extended A and B, combining accents, Vietnamese and "
             "general punctuation. Characters outside these ranges show as '?'.");
  Caption(app, "Type in your language to check that every letter shows.");
  ImGui::SetNextItemWidth(-FLT_MIN);
  ImGui::InputText("##sample", state.sample, sizeof state.sample);
}

}  // namespace loupe::app
