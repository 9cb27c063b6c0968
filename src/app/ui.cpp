#include "ui.h"

#include "app.h"
#include "imgui.h"

namespace loupe::app {

void ViewHeading(const AppState& app, const char* title, const char* purpose) {
  ImGui::PushFont(app.fonts.heading);
  ImGui::TextUnformatted(title);
  ImGui::PopFont();
  Caption(app, purpose);
  ImGui::Separator();
  ImGui::Spacing();
}

void Caption(const AppState& app, const char* text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ThemePalette(app.theme).muted);
  ImGui::TextWrapped("%s", text);
  ImGui::PopStyleColor();
}

void Notice(const AppState& app, const char* text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ThemePalette(app.theme).warning);
  ImGui::TextWrapped("%s", text);
  ImGui::PopStyleColor();
}

void HelpMarker(const char* text) {
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 30.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

void SameLineIfFits(float width, float spacing) {
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  if (ImGui::GetItemRectMax().x + spacing + width <= right) ImGui::SameLine(0, spacing);
}

}  // namespace loupe::app
