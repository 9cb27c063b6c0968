// Generate: a prompt, the sampling settings, and the tokens as they stream, each a chip
// shaded by its probability (or surprisal). Hover a chip for the alternatives the model
// weighed at that position; click it to make it the focus of the other views.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "app.h"
#include "imgui.h"
#include "ui.h"

namespace loupe::app {

namespace {

// Visible text for a token: newlines and tabs written out, empty pieces marked.
std::string Visible(const std::string& piece) {
  std::string out;
  for (char c : piece) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out.empty() ? std::string("\xc2\xb7") : out;
}

double SurprisalBits(float prob) { return prob > 0 ? -std::log2(static_cast<double>(prob)) : 30.0; }

// 0..1: how strongly a chip is shaded.
float Shade(const TokenChip& t, bool surprisal) {
  if (t.prob < 0) return 0.0f;
  if (surprisal) return static_cast<float>(std::min(1.0, SurprisalBits(t.prob) / 10.0));
  return std::clamp(t.prob, 0.0f, 1.0f);
}

ImU32 ChipColour(const AppState& app, float shade, bool surprisal) {
  const bool dark = app.theme == Theme::kDark;
  // Probability: blue; surprisal: orange. Alpha carries the value.
  const ImVec4 base = surprisal ? ImVec4(0.93f, 0.49f, 0.13f, 1.0f) : ImVec4(0.25f, 0.52f, 0.96f, 1.0f);
  return ImGui::GetColorU32(ImVec4(base.x, base.y, base.z, (dark ? 0.10f : 0.08f) + 0.80f * shade));
}

void AlternativesTooltip(const TokenChip& t) {
  ImGui::BeginTooltip();
  ImGui::Text("\"%s\"  id %d", Visible(t.piece).c_str(), t.id);
  if (t.prob >= 0) {
    ImGui::Text("probability %.3f  \xc2\xb7  surprisal %.2f bits", t.prob, SurprisalBits(t.prob));
    ImGui::Separator();
    ImGui::TextUnformatted("What the model weighed here (temperature 1):");
    for (const TokenAlternative& a : t.alternatives) {
      ImGui::ProgressBar(a.prob, ImVec2(120, 0), "");
      ImGui::SameLine();
      ImGui::Text("%5.1f%%  \"%s\"%s", 100.0 * a.prob, Visible(a.text).c_str(), a.id == t.id ? "  \xe2\x86\x90 chosen" : "");
    }
  } else {
    ImGui::TextUnformatted("A prompt token: read, not generated.");
  }
  ImGui::EndTooltip();
}

// Chips laid out like text, wrapping at the region's edge. Returns the clicked index.
int DrawChips(AppState& app, const std::vector<TokenChip>& chips, bool prompt, bool surprisal, int focus) {
  int clicked = -1;
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  const ImGuiStyle& style = ImGui::GetStyle();
  const ImU32 text_colour = prompt ? ThemePalette(app.theme).muted : ImGui::GetColorU32(ImGuiCol_Text);
  for (size_t i = 0; i < chips.size(); ++i) {
    const TokenChip& t = chips[i];
    const std::string label = Visible(t.piece);
    const ImVec2 size(ImGui::CalcTextSize(label.c_str()).x + 6.0f, ImGui::GetTextLineHeight() + 4.0f);
    if (i > 0) {
      ImGui::SameLine(0, 2.0f);
      if (ImGui::GetCursorScreenPos().x + size.x > right) ImGui::NewLine();
    }
    ImGui::PushID(static_cast<int>(i));
    const ImVec2 p = ImGui::GetCursorScreenPos();
    if (ImGui::InvisibleButton("chip", size) && !prompt) clicked = static_cast<int>(i);
    const bool hovered = ImGui::IsItemHovered();
    const ImU32 fill = prompt ? ImGui::GetColorU32(ImGuiCol_FrameBg) : ChipColour(app, Shade(t, surprisal), surprisal);
    draw->AddRectFilled(p, ImVec2(p.x + size.x, p.y + size.y), fill, 3.0f);
    if (hovered || (!prompt && static_cast<int>(i) == focus))
      draw->AddRect(p, ImVec2(p.x + size.x, p.y + size.y), ThemePalette(app.theme).accent, 3.0f, 0, 2.0f);
    draw->AddText(ImVec2(p.x + 3.0f, p.y + 2.0f), text_colour, label.c_str());
    if (hovered) AlternativesTooltip(t);
    ImGui::PopID();
  }
  (void)style;
  return clicked;
}

void Settings(AppState& app, GenerateViewState& s) {
  const float width = 180.0f;
  ImGui::SetNextItemWidth(width);
  ImGui::SliderInt("max tokens", &s.max_tokens, 1, 512);
  ImGui::SameLine();
  HelpMarker("How many tokens to generate at most; the model may end its text sooner.");
  SameLineIfFits(width + ImGui::CalcTextSize("seed").x + 40.0f);
  ImGui::SetNextItemWidth(width);
  ImGui::InputInt("seed", &s.seed);
  s.seed = std::max(0, s.seed);
  ImGui::SameLine();
  HelpMarker("The random seed: the same seed, settings and model give the same tokens, here, in the browser and in loupe-cli.");
  SameLineIfFits(ImGui::CalcTextSize("chat").x + 40.0f);
  ImGui::Checkbox("chat", &s.chat);
  ImGui::SameLine();
  HelpMarker("Wrap the prompt in the model's chat template (instruct models only).");

  ImGui::SetNextItemWidth(width);
  ImGui::SliderFloat("temperature", &s.temperature, 0.0f, 2.0f, "%.2f");
  ImGui::SameLine();
  HelpMarker("Divides the scores before sampling: 0 always takes the most likely token, higher values pick less likely ones more often.");
  SameLineIfFits(width + ImGui::CalcTextSize("top-k").x + 40.0f);
  ImGui::SetNextItemWidth(width);
  ImGui::SliderInt("top-k", &s.top_k, 0, 200);
  ImGui::SameLine();
  HelpMarker("Keep only the k most likely tokens (0 keeps all).");
  SameLineIfFits(width + ImGui::CalcTextSize("top-p").x + 40.0f);
  ImGui::SetNextItemWidth(width);
  ImGui::SliderFloat("top-p", &s.top_p, 0.0f, 1.0f, "%.2f");
  ImGui::SameLine();
  HelpMarker("Nucleus sampling: keep the most likely tokens until their probabilities add up to p.");

  ImGui::SetNextItemWidth(width);
  ImGui::SliderFloat("min-p", &s.min_p, 0.0f, 1.0f, "%.2f");
  ImGui::SameLine();
  HelpMarker("Drop tokens less likely than min-p times the most likely one.");
  SameLineIfFits(width + ImGui::CalcTextSize("repeat penalty").x + 40.0f);
  ImGui::SetNextItemWidth(width);
  ImGui::SliderFloat("repeat penalty", &s.repeat_penalty, 0.5f, 2.0f, "%.2f");
  ImGui::SameLine();
  HelpMarker("Makes tokens seen recently less likely (1 = off).");
  (void)app;
}

}  // namespace

void DrawGenerateView(AppState& app, GenerateViewState& state) {
  ViewHeading(app, "Generate", "Type a prompt and watch tokens stream, shaded by probability.");
  EngineState& e = app.engine;
  if (!e.card.is_object()) {
    Notice(app, e.loading ? "A model is loading\xe2\x80\xa6" : "No model loaded yet: open one in the Model view.");
    if (!e.loading && ImGui::Button("Open the Model view")) app.view = ViewId::kModel;
    ImGui::Spacing();
  }

  Caption(app, "Prompt (Ctrl+Enter generates, Esc stops):");
  ImGui::InputTextMultiline("##prompt", state.prompt, sizeof state.prompt,
                            ImVec2(-FLT_MIN, ImGui::GetTextLineHeight() * 4.5f), ImGuiInputTextFlags_AllowTabInput);
  const bool can_generate = e.card.is_object() && !e.generating && !e.loading && state.prompt[0];
  ImGui::BeginDisabled(!can_generate);
  if (ImGui::Button("Generate", ImVec2(110, 0))) StartGeneration(app);
  ImGui::EndDisabled();
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("Generate (Ctrl+Enter)");
  ImGui::SameLine();
  ImGui::BeginDisabled(!e.generating);
  if (ImGui::Button("Stop", ImVec2(80, 0))) StopGeneration(app);
  ImGui::EndDisabled();
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("Stop between two tokens (Esc)");
  // Ctrl+Enter and Esc: shortcuts.cpp.
  ImGui::SameLine(0, 20.0f);
  if (e.generating) {
    ImGui::Text("generating\xe2\x80\xa6 %zu tokens%s", e.tokens.size(), e.from_page ? " (started by the page's script)" : "");
  } else if (!e.stop_reason.empty()) {
    ImGui::Text("%zu tokens  \xc2\xb7  %.1f tokens/s  \xc2\xb7  stopped: %s", e.tokens.size(), e.tokens_per_s,
                e.stop_reason == "max_tokens" ? "max tokens reached"
                : e.stop_reason == "end_of_text" ? "the model ended its text"
                : e.stop_reason == "context_full" ? "the context is full"
                : "stopped by you");
  }
  if (!e.generate_error.empty()) Notice(app, e.generate_error.c_str());

  ImGui::Spacing();
  Settings(app, state);
  ImGui::Spacing();
  ImGui::Separator();

  // Output.
  ImGui::TextUnformatted("Shade by");
  ImGui::SameLine();
  int mode = state.surprisal ? 1 : 0;
  ImGui::RadioButton("probability", &mode, 0);
  ImGui::SameLine();
  ImGui::RadioButton("surprisal", &mode, 1);
  state.surprisal = mode == 1;
  ImGui::SameLine();
  HelpMarker(state.surprisal
                 ? "Darker orange = more surprising: surprisal is -log2(probability) in bits, full colour at 10 bits "
                   "(a 1-in-1024 token)."
                 : "Darker blue = more likely: each generated token is shaded by the probability the model gave it "
                   "(at temperature 1), full colour at 1. Grey chips are the prompt.");
  ImGui::BeginChild("tokens", ImVec2(0, e.tokens.empty() && e.prompt_tokens.empty() ? 60.0f : 0.0f), false);
  if (e.prompt_tokens.empty() && e.tokens.empty()) {
    Caption(app, "Generated tokens appear here. Hover one for the alternatives the model weighed; click it to focus it.");
  } else {
    DrawChips(app, e.prompt_tokens, true, state.surprisal, -1);
    if (!e.prompt_tokens.empty() && !e.tokens.empty()) ImGui::SameLine(0, 2.0f);
    const int clicked = DrawChips(app, e.tokens, false, state.surprisal, app.focus_token);
    if (clicked >= 0) app.focus_token = clicked == app.focus_token ? -1 : clicked;
    if (app.focus_token >= 0 && app.focus_token < static_cast<int>(e.tokens.size())) {
      const TokenChip& t = e.tokens[static_cast<size_t>(app.focus_token)];
      ImGui::Spacing();
      ImGui::Separator();
      ImGui::Text("Focus: token %d \"%s\" (id %d), probability %.3f, surprisal %.2f bits", app.focus_token + 1,
                  Visible(t.piece).c_str(), t.id, t.prob, SurprisalBits(t.prob));
      Caption(app, "The other views (attention, logit lens, attribution) explain the focused token. Click it again to clear.");
    }
  }
  ImGui::EndChild();
}

}  // namespace loupe::app
