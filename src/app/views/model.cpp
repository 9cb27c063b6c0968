// Model: choose a model (bundled, a URL, a file) and read its card. Everything shown
// comes from the engine's events: the card is the engine's model_card_json, the progress
// is what the page's download reported.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "app.h"
#include "imgui.h"
#include "ui.h"

namespace loupe::app {

namespace {

using Json = nlohmann::json;

void CardRow(const char* key, const std::string& value, const char* help = nullptr) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextUnformatted(key);
  if (help) {
    ImGui::SameLine();
    HelpMarker(help);
  }
  ImGui::TableSetColumnIndex(1);
  ImGui::TextWrapped("%s", value.empty() ? "(not stated in the file)" : value.c_str());
}

std::string JsonText(const Json& card, const char* key) {
  auto it = card.find(key);
  if (it == card.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// The tensor type most of the weights use, with the others after it: "q8_0 (57), f32 (25)".
std::string Quantization(const Json& card) {
  const Json types = card.value("tensor_types", Json::object());
  std::vector<std::pair<int, std::string>> sorted;
  for (auto it = types.begin(); it != types.end(); ++it)
    if (it.value().is_number()) sorted.push_back({it.value().get<int>(), it.key()});
  std::sort(sorted.rbegin(), sorted.rend());
  std::string out;
  for (const auto& [count, name] : sorted) out += (out.empty() ? "" : ", ") + name + " (" + std::to_string(count) + " tensors)";
  return out;
}

std::string Seconds(double s) {
  char buffer[32];
  if (s < 0) return "unknown";
  if (s < 60) std::snprintf(buffer, sizeof buffer, "%.0f s", std::ceil(s));
  else std::snprintf(buffer, sizeof buffer, "%.0f min %02.0f s", std::floor(s / 60), std::fmod(s, 60));
  return buffer;
}

void DrawProgress(AppState& app) {
  EngineState& e = app.engine;
  const DownloadState& d = e.download;
  if (!e.loading) return;
  ImGui::PushFont(app.fonts.heading);
  ImGui::TextUnformatted(d.from_cache ? "Reading from the cache" : "Loading");
  ImGui::PopFont();
  ImGui::TextWrapped("%s", d.name.c_str());
  const float fraction = d.total > 0 ? static_cast<float>(d.loaded / d.total) : 0.0f;
  char overlay[160];
  if (d.total > 0) {
    std::snprintf(overlay, sizeof overlay, "%s of %s  \xc2\xb7  %s/s  \xc2\xb7  %s left", FormatBytes(d.loaded).c_str(),
                  FormatBytes(d.total).c_str(), FormatBytes(d.rate).c_str(), Seconds(d.eta_s).c_str());
  } else if (d.loaded > 0) {
    std::snprintf(overlay, sizeof overlay, "%s  \xc2\xb7  %s/s (size unknown)", FormatBytes(d.loaded).c_str(),
                  FormatBytes(d.rate).c_str());
  } else {
    std::snprintf(overlay, sizeof overlay, "%s", d.active ? "starting\xe2\x80\xa6" : "reading the model\xe2\x80\xa6");
  }
  ImGui::ProgressBar(d.active ? fraction : 1.0f, ImVec2(-FLT_MIN - 90.0f, 0), overlay);
  if (app.platform.web) {
    ImGui::SameLine();
    if (ImGui::Button("Cancel", ImVec2(80, 0))) SendRequest(app, {{"op", "cancel_download"}});
  }
  Caption(app, d.active ? "Bytes received, download rate and the time left at that rate."
                        : "The engine is checking the file and building the model.");
  ImGui::Spacing();
}

void DrawCard(AppState& app) {
  const Json& card = app.engine.card;
  ImGui::PushFont(app.fonts.heading);
  ImGui::Text("Model card: %s", card.value("name", std::string("(unnamed)")).c_str());
  ImGui::PopFont();
  Caption(app, "Facts read from the file itself; nothing here is guessed. Hover (?) for what a line means.");
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("card", 2, flags)) return;
  ImGui::TableSetupColumn("key", ImGuiTableColumnFlags_WidthFixed, 190.0f);
  ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch);
  CardRow("Architecture", JsonText(card, "architecture"), "The family of forward pass the engine runs for this model.");
  CardRow("Parameters", FormatCount(card.value("parameters", 0.0)), "Numbers the model learned, counted over every weight tensor.");
  CardRow("Quantization", Quantization(card), "How the weights are stored: f32/f16 are floats, q8_0/q4_0... keep fewer bits per weight.");
  CardRow("Context", std::to_string(card.value("context_length", 0)) + " tokens", "The longest text (prompt plus output) the model can read at once.");
  char shape[160];
  std::snprintf(shape, sizeof shape, "%d layers, width %d, %d heads (%d key/value), MLP %d, vocabulary %d",
                card.value("layers", 0), card.value("dim", 0), card.value("heads", 0), card.value("kv_heads", 0),
                card.value("ff_dim", 0), card.value("vocab_size", 0));
  CardRow("Shape", shape);
  const Json tok = card.value("tokenizer", Json::object());
  CardRow("Tokenizer", JsonText(tok, "kind") + (JsonText(tok, "pre_tokenizer").empty() ? "" : " (" + JsonText(tok, "pre_tokenizer") + ")"));
  CardRow("Licence", JsonText(card, "license"), "The licence the file names (general.license).");
  std::string author = JsonText(card, "author");
  if (author.empty()) author = JsonText(card, "organization");
  CardRow("Author", author);
  CardRow("Training data", JsonText(card, "datasets"));
  CardRow("Source", JsonText(card, "source"));
  CardRow("SHA-256", JsonText(card, "sha256"), "The file's fingerprint: the same number means exactly the same bytes.");
  const double file = card.value("file_bytes", 0.0), kv = card.value("kv_cache_bytes", 0.0);
  CardRow("Memory use", FormatBytes(file) + " of weights + " + FormatBytes(kv) + " of KV cache at full context = " + FormatBytes(file + kv),
          "The file is used in place; the KV cache holds the keys and values of every position read so far.");
  ImGui::EndTable();
}

void DrawModelList(AppState& app, const char* id, const std::vector<ModelEntry>& models, bool deletable) {
  ImGui::PushID(id);
  for (size_t i = 0; i < models.size(); ++i) {
    const ModelEntry& m = models[i];
    ImGui::PushID(static_cast<int>(i));
    const bool busy = app.engine.loading || app.engine.generating;
    ImGui::BeginDisabled(busy);
    if (ImGui::SmallButton("Load")) OpenModel(app, m.url);
    ImGui::EndDisabled();
    if (deletable) {
      ImGui::SameLine();
      if (ImGui::SmallButton("Delete")) SendRequest(app, {{"op", "cache_delete"}, {"url", m.url}});
    }
    ImGui::SameLine();
    ImGui::Text("%s  (%s)", m.name.c_str(), FormatBytes(static_cast<double>(m.bytes)).c_str());
    ImGui::PopID();
  }
  ImGui::PopID();
}

}  // namespace

void DrawModelView(AppState& app, ModelViewState& state) {
  ViewHeading(app, "Model", "Choose a model and read its card.");
  EngineState& e = app.engine;

  if (!e.load_error.empty()) {
    Notice(app, ("Could not load the model: " + e.load_error).c_str());
    if (e.card.is_object()) Caption(app, "The previous model is still loaded and ready.");
    ImGui::Spacing();
  }
  if (!e.load_notice.empty()) Caption(app, e.load_notice.c_str());
  DrawProgress(app);

  if (e.card.is_object()) {
    DrawCard(app);
  } else if (!e.loading) {
    Caption(app, "No model loaded yet. Pick a bundled model, or open a GGUF file or URL below.");
  }
  ImGui::Spacing();

  ImGui::PushFont(app.fonts.heading);
  ImGui::TextUnformatted("Open a model");
  ImGui::PopFont();
  ImGui::SameLine();
  HelpMarker("GGUF files (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) of GPT-2, "
             "Llama-family and Qwen2 models. The file stays on this machine.");
  const bool busy = e.loading || e.generating;
  if (!e.bundled.empty()) {
    Caption(app, "Bundled with Loupe:");
    DrawModelList(app, "bundled", e.bundled, false);
  }
  ImGui::Spacing();
  if (app.platform.web) {
    Caption(app, "From a URL (the server must allow this page to read it):");
    ImGui::SetNextItemWidth(-FLT_MIN - 110.0f);
    const bool enter = ImGui::InputTextWithHint("##url", "https://example.org/model.gguf", state.url, sizeof state.url,
                                                ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    ImGui::BeginDisabled(busy || !state.url[0]);
    if ((ImGui::Button("Load URL", ImVec2(100, 0)) || enter) && state.url[0] && !busy) OpenModel(app, state.url);
    ImGui::EndDisabled();
    ImGui::BeginDisabled(busy);
    if (ImGui::Button("Choose a file\xe2\x80\xa6")) SendRequest(app, {{"op", "pick_file"}});
    ImGui::EndDisabled();
    ImGui::SameLine();
    Caption(app, "or drop a .gguf file anywhere on the page.");
  } else {
    Caption(app, "From a file on this machine:");
    ImGui::SetNextItemWidth(-FLT_MIN - 110.0f);
    const bool enter = ImGui::InputTextWithHint("##path", "/path/to/model.gguf", state.path, sizeof state.path,
                                                ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    ImGui::BeginDisabled(busy || !state.path[0]);
    if ((ImGui::Button("Open", ImVec2(100, 0)) || enter) && state.path[0] && !busy) OpenModel(app, state.path);
    ImGui::EndDisabled();
    Caption(app, "Or drop a .gguf file on the window.");
  }

  if (app.platform.web) {
    ImGui::Spacing();
    ImGui::PushFont(app.fonts.heading);
    ImGui::TextUnformatted("Kept in this browser");
    ImGui::PopFont();
    ImGui::SameLine();
    HelpMarker("Models loaded from a URL are kept in the browser's Cache Storage, so the next load needs no "
               "download and works offline. Delete frees the space.");
    if (e.cached.empty()) Caption(app, "No models cached yet.");
    DrawModelList(app, "cached", e.cached, true);
  }
}

}  // namespace loupe::app
