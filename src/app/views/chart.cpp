#include "views/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "app.h"
#include "colormap.h"
#include "export.h"
#include "ui.h"

namespace loupe::app {

void BeginChart(const char* id) {
  ImGui::PushID(id);
  ImGui::BeginGroup();
}

void EndChart(AppState& app, const char* id) {
  ImGui::EndGroup();
  ImGui::PopID();
  const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  // Only what is visible can be read back from the framebuffer.
  const ImVec2 wmin = ImGui::GetWindowPos();
  const ImVec2 wmax(wmin.x + ImGui::GetWindowSize().x, wmin.y + ImGui::GetWindowSize().y);
  PlaceChart(app, id, std::max(a.x - 4, wmin.x), std::max(a.y - 4, wmin.y), std::min(b.x + 4, wmax.x), std::min(b.y + 4, wmax.y));
}

void ExportButtons(AppState& app, const char* chart, const std::string& basename,
                   const std::function<std::string()>& csv, const std::function<std::string()>& json) {
  ImGui::PushID(chart);
  if (ImGui::SmallButton("PNG")) RequestPng(app, chart, basename + ".png");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Save this chart as it looks now, as a PNG image.");
  if (csv) {
    ImGui::SameLine();
    if (ImGui::SmallButton("CSV")) SaveFile(app, basename + ".csv", csv(), "text/csv");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Save the numbers behind this chart as CSV (a spreadsheet opens it).");
  }
  if (json) {
    ImGui::SameLine();
    if (ImGui::SmallButton("JSON")) SaveFile(app, basename + ".json", json(), "application/json");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Save the numbers behind this chart as JSON.");
  }
  ImGui::PopID();
}

void ColorLegend(const char* label, float max_value, float width) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float bar_h = 12.0f, text_h = ImGui::GetTextLineHeight();
  const int steps = 64;
  for (int i = 0; i < steps; ++i) {
    const float x0 = origin.x + width * float(i) / steps, x1 = origin.x + width * float(i + 1) / steps;
    draw->AddRectFilled(ImVec2(x0, origin.y), ImVec2(x1 + 0.5f, origin.y + bar_h), ViridisU32((float(i) + 0.5f) / steps));
  }
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  draw->AddRect(origin, ImVec2(origin.x + width, origin.y + bar_h), ImGui::GetColorU32(ImGuiCol_Border));
  char buffer[32];
  const float values[3] = {0.0f, max_value / 2, max_value};
  for (int i = 0; i < 3; ++i) {
    std::snprintf(buffer, sizeof buffer, "%.3g", values[i]);
    const float tx = origin.x + width * float(i) / 2.0f;
    draw->AddLine(ImVec2(tx, origin.y + bar_h), ImVec2(tx, origin.y + bar_h + 3), text);
    const float tw = ImGui::CalcTextSize(buffer).x;
    const float x = i == 0 ? tx : i == 2 ? tx - tw : tx - tw / 2;
    draw->AddText(ImVec2(x, origin.y + bar_h + 3), text, buffer);
  }
  ImGui::Dummy(ImVec2(width, bar_h + 3 + text_h));
  ImGui::SameLine();
  ImGui::SetCursorPosY(ImGui::GetCursorPosY() - 2);
  ImGui::PushTextWrapPos(0.0f);  // a narrow panel wraps the label instead of clipping it
  ImGui::TextDisabled("%s", label);
  ImGui::PopTextWrapPos();
}

void AddTextRotated(ImDrawList* draw, ImVec2 pos, ImU32 color, const char* text, float angle) {
  const int first = draw->VtxBuffer.Size;
  draw->AddText(pos, color, text);
  const float c = std::cos(angle), s = std::sin(angle);
  for (int i = first; i < draw->VtxBuffer.Size; ++i) {
    ImDrawVert& v = draw->VtxBuffer[i];
    const float dx = v.pos.x - pos.x, dy = v.pos.y - pos.y;
    v.pos = ImVec2(pos.x + dx * c - dy * s, pos.y + dx * s + dy * c);
  }
}

std::string FitText(const std::string& text, float max_width) {
  if (ImGui::CalcTextSize(text.c_str()).x <= max_width) return text;
  std::string out = text;
  while (!out.empty()) {
    // Drop one UTF-8 character from the end.
    size_t cut = out.size() - 1;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    if (ImGui::CalcTextSize((out + "\xe2\x80\xa6").c_str()).x <= max_width) return out + "\xe2\x80\xa6";
  }
  return out;
}

}  // namespace loupe::app
