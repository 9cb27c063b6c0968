// Tokens: how the loaded model's tokenizer splits a text. Each token is a chip (its
// boundaries are the chip edges) with its id below; the table lists ids, text and bytes.
// The view asks the engine again whenever the text changes.
#include <algorithm>
#include <cstdio>
#include <string>

#include "app.h"
#include "imgui.h"
#include "ui.h"

namespace loupe::app {

namespace {

std::string Escaped(const std::string& piece) {
  std::string out;
  for (char c : piece) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c == ' ') out += "\xc2\xb7";  // a visible space
    else out += c;
  }
  return out;
}

}  // namespace

void DrawTokensView(AppState& app, TokensViewState& state) {
  ViewHeading(app, "Tokens", "How text splits into tokens: boundaries, ids, bytes.");
  EngineState& e = app.engine;
  if (!e.card.is_object()) {
    Notice(app, "No model loaded yet: every model has its own tokenizer, so open one in the Model view first.");
    if (ImGui::Button("Open the Model view")) app.view = ViewId::kModel;
    return;
  }
  Caption(app, "Type any text; it is split by the loaded model's tokenizer as you type.");
  ImGui::InputTextMultiline("##text", state.text, sizeof state.text, ImVec2(-FLT_MIN, ImGui::GetTextLineHeight() * 3.5f));
  ImGui::Checkbox("start with the beginning-of-text token", &state.bos);
  ImGui::SameLine();
  HelpMarker("Many models expect a special token first (BOS). Generation adds it when the model asks for it.");

  // Ask again when the text changed and no request is on its way.
  if (e.tokenize_request < 0 && !e.generating && (state.requested != state.text || state.requested_bos != state.bos)) {
    state.requested = state.text;
    state.requested_bos = state.bos;
    e.tokenized_text = state.text;
    e.tokenize_request = SendRequest(app, {{"op", "tokenize"}, {"text", state.requested}, {"bos", state.bos}});
  }
  if (!e.tokenize_error.empty()) Notice(app, e.tokenize_error.c_str());

  size_t bytes = 0;
  for (int b : e.piece_bytes) bytes += static_cast<size_t>(b);
  const size_t characters = [&] {
    size_t n = 0;
    for (unsigned char c : e.tokenized_text) n += (c & 0xC0) != 0x80;
    return n;
  }();
  ImGui::Spacing();
  ImGui::Text("%zu tokens  \xc2\xb7  %zu bytes  \xc2\xb7  %zu characters  \xc2\xb7  %.2f characters per token", e.pieces.size(),
              bytes, characters, e.pieces.empty() ? 0.0 : static_cast<double>(characters) / static_cast<double>(e.pieces.size()));
  ImGui::SameLine();
  HelpMarker("Fewer characters per token means the model reads this text in more, smaller steps (common for "
             "languages its tokenizer saw little of).");

  // Chips: the token's text on top, its id below; colours alternate to show the boundaries.
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  const float line = ImGui::GetTextLineHeight();
  const ImU32 fills[2] = {ImGui::GetColorU32(ImVec4(0.25f, 0.52f, 0.96f, 0.30f)),
                          ImGui::GetColorU32(ImVec4(0.93f, 0.49f, 0.13f, 0.30f))};
  for (size_t i = 0; i < e.pieces.size(); ++i) {
    const TokenChip& t = e.pieces[i];
    const std::string label = Escaped(t.piece);
    char id[16];
    std::snprintf(id, sizeof id, "%d", t.id);
    const float w = std::max(ImGui::CalcTextSize(label.c_str()).x, ImGui::CalcTextSize(id).x * 0.8f) + 8.0f;
    const ImVec2 size(w, line * 1.9f + 4.0f);
    if (i > 0) {
      ImGui::SameLine(0, 2.0f);
      if (ImGui::GetCursorScreenPos().x + size.x > right) ImGui::NewLine();
    }
    ImGui::PushID(static_cast<int>(i));
    const ImVec2 p = ImGui::GetCursorScreenPos();
    ImGui::InvisibleButton("piece", size);
    draw->AddRectFilled(p, ImVec2(p.x + size.x, p.y + size.y), fills[i % 2], 3.0f);
    draw->AddText(ImVec2(p.x + 4.0f, p.y + 2.0f), ImGui::GetColorU32(ImGuiCol_Text), label.c_str());
    draw->AddText(nullptr, ImGui::GetFontSize() * 0.8f,
                  ImVec2(p.x + 4.0f, p.y + line + 3.0f), ThemePalette(app.theme).muted, id);
    if (ImGui::IsItemHovered()) {
      ImGui::SetTooltip("token %zu: id %d, %d bytes\n\"%s\"", i + 1, t.id, i < e.piece_bytes.size() ? e.piece_bytes[i] : 0,
                        label.c_str());
    }
    ImGui::PopID();
  }

  ImGui::Spacing();
  Caption(app, "Each row is one token: its position, its id in the vocabulary, its text (\xc2\xb7 is a space) and its length in bytes.");
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_SizingStretchProp;
  if (ImGui::BeginTable("pieces", 4, flags, ImVec2(0, 0))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("#", ImGuiTableColumnFlags_WidthFixed, 50.0f);
    ImGui::TableSetupColumn("id", ImGuiTableColumnFlags_WidthFixed, 90.0f);
    ImGui::TableSetupColumn("text", ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableSetupColumn("bytes", ImGuiTableColumnFlags_WidthFixed, 60.0f);
    ImGui::TableHeadersRow();
    for (size_t i = 0; i < e.pieces.size(); ++i) {
      ImGui::TableNextRow();
      ImGui::TableSetColumnIndex(0);
      ImGui::Text("%zu", i + 1);
      ImGui::TableSetColumnIndex(1);
      ImGui::Text("%d", e.pieces[i].id);
      ImGui::TableSetColumnIndex(2);
      ImGui::TextUnformatted(Escaped(e.pieces[i].piece).c_str());
      ImGui::TableSetColumnIndex(3);
      ImGui::Text("%d", i < e.piece_bytes.size() ? e.piece_bytes[i] : 0);
    }
    ImGui::EndTable();
  }
}

}  // namespace loupe::app
