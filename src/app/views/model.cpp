// Model: choose a model and read its card. The engine cannot load models yet, so this
// view says so and lists what it will show; it never pretends a model is there.
#include "app.h"
#include "imgui.h"
#include "ui.h"

namespace loupe::app {

void DrawModelView(AppState& app, ModelViewState& /*state*/) {
  ViewHeading(app, "Model", "Choose a model and read its card.");

  Notice(app, "No model loaded yet \xe2\x80\x94 the engine issue adds model loading.");
  ImGui::Spacing();
  Caption(app, "When it does, this view will offer:");
  ImGui::BulletText("the bundled open models, trained by Loupe from openly licensed text;");
  ImGui::BulletText("opening a GGUF or safetensors file (picker, drag and drop) or a URL,");
  ImGui::Indent();
  ImGui::TextUnformatted("with bytes received and time left;");
  ImGui::Unindent();
  ImGui::BulletText("the model card: architecture, parameters, quantization, context,");
  ImGui::Indent();
  ImGui::TextUnformatted("licence, author, training data, SHA-256 and memory use.");
  ImGui::Unindent();
}

}  // namespace loupe::app
