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
  const char* coming[] = {
      "the bundled open models, trained by Loupe from openly licensed text;",
      "opening a GGUF or safetensors file (picker, drag and drop) or a URL, with bytes received and time left;",
      "the model card: architecture, parameters, quantization, context, licence, author, training data, "
      "SHA-256 and memory use.",
  };
  for (const char* item : coming) {
    ImGui::Bullet();
    ImGui::TextWrapped("%s", item);
  }
}

}  // namespace loupe::app
