// Start: what Loupe is, and an honest account of what this build does.
#include "app.h"
#include "imgui.h"
#include "ui.h"

namespace loupe::app {

void DrawStartView(AppState& app, StartViewState& /*state*/) {
  ViewHeading(app, "Welcome to Loupe", "What Loupe is, and what this build can do.");

  ImGui::TextWrapped(
      "Loupe is a glass box for small open language models. It runs a model on your own "
      "machine \xe2\x80\x94 in this %s \xe2\x80\x94 and shows what the model computes: the probability of every "
      "token, what each attention head looks at, how a guess forms layer by layer, and which "
      "words of the prompt drove it. Nothing you type leaves this machine.",
      app.platform.web ? "browser tab" : "window");
  ImGui::Spacing();

  ImGui::PushFont(app.fonts.heading);
  ImGui::TextUnformatted("In this build");
  ImGui::PopFont();
  ImGui::BulletText("The workspace: navigation, light and dark themes, sharp text at any pixel ratio.");
  ImGui::BulletText("The System view: graphics context, threads and font coverage, as measured here.");
  ImGui::Spacing();
  Notice(app, "No model loaded yet \xe2\x80\x94 the engine issue adds model loading. Until then no view "
              "shows model output: Loupe never draws numbers it did not compute.");
  ImGui::Spacing();

  ImGui::PushFont(app.fonts.heading);
  ImGui::TextUnformatted("Coming next");
  ImGui::PopFont();
  for (const PlannedView& view : PlannedViews()) {
    ImGui::Bullet();
    ImGui::TextWrapped("%s: %s", view.name, view.summary);
  }
}

}  // namespace loupe::app
