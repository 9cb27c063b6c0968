// PumpEngine and the requests the views send (see engine_state.h).
#include "engine_state.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "app.h"

namespace loupe::app {

namespace {

using Json = nlohmann::json;

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

double Num(const Json& j, const char* key, double fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

int Int(const Json& j, const char* key, int fallback = -1) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

std::vector<ModelEntry> Entries(const Json& list) {
  std::vector<ModelEntry> out;
  if (!list.is_array()) return out;
  for (const Json& m : list) {
    if (!m.is_object()) continue;
    out.push_back({Str(m, "name"), Str(m, "url"), static_cast<uint64_t>(std::max(0.0, Num(m, "bytes")))});
  }
  return out;
}

TokenChip Chip(const Json& t) {
  TokenChip chip;
  chip.id = Int(t, "id", 0);
  chip.piece = t.contains("token_text") ? Str(t, "token_text") : Str(t, "text");
  chip.prob = static_cast<float>(Num(t, "prob", -1));
  if (auto alts = t.find("alternatives"); alts != t.end() && alts->is_array()) {
    for (const Json& a : *alts) {
      if (a.is_object()) chip.alternatives.push_back({Int(a, "id", 0), Str(a, "text"), static_cast<float>(Num(a, "prob"))});
    }
  }
  return chip;
}

// A generation the page started: show its prompt and settings in the Generate view.
void AdoptPageRequest(GenerateViewState& view, const Json& r) {
  if (!r.is_object()) return;
  const std::string prompt = Str(r, "prompt");
  std::snprintf(view.prompt, sizeof view.prompt, "%s", prompt.c_str());
  view.max_tokens = Int(r, "max_tokens", view.max_tokens);
  view.seed = Int(r, "seed", view.seed);
  view.temperature = static_cast<float>(Num(r, "temperature", view.temperature));
  view.top_k = Int(r, "top_k", view.top_k);
  view.top_p = static_cast<float>(Num(r, "top_p", view.top_p));
  view.min_p = static_cast<float>(Num(r, "min_p", view.min_p));
  view.repeat_penalty = static_cast<float>(Num(r, "repeat_penalty", view.repeat_penalty));
  if (auto it = r.find("chat"); it != r.end() && it->is_boolean()) view.chat = it->get<bool>();
}

}  // namespace

std::string FormatBytes(double bytes) {
  char buffer[32];
  if (bytes >= 1e9) std::snprintf(buffer, sizeof buffer, "%.2f GB", bytes / 1e9);
  else if (bytes >= 1e6) std::snprintf(buffer, sizeof buffer, "%.1f MB", bytes / 1e6);
  else if (bytes >= 1e3) std::snprintf(buffer, sizeof buffer, "%.0f kB", bytes / 1e3);
  else std::snprintf(buffer, sizeof buffer, "%.0f B", bytes);
  return buffer;
}

std::string FormatCount(double count) {
  char buffer[32];
  if (count >= 1e9) std::snprintf(buffer, sizeof buffer, "%.2f B", count / 1e9);
  else if (count >= 1e6) std::snprintf(buffer, sizeof buffer, "%.1f M", count / 1e6);
  else if (count >= 1e3) std::snprintf(buffer, sizeof buffer, "%.1f k", count / 1e3);
  else std::snprintf(buffer, sizeof buffer, "%.0f", count);
  return buffer;
}

int SendRequest(AppState& app, Json request, std::vector<uint8_t> bytes) {
  EngineState& e = app.engine;
  if (!e.client) e.client = make_engine_client();
  const int id = e.next_request_id++;
  request["id"] = id;
  e.client->send(request, std::move(bytes));
  return id;
}

void OpenModel(AppState& app, const std::string& path_or_url) {
  EngineState& e = app.engine;
  e.load_error.clear();
  e.load_notice.clear();
  e.loading = true;
  e.download = DownloadState{};
  e.download.active = app.platform.web;
  e.download.name = path_or_url;
  if (app.platform.web) SendRequest(app, {{"op", "load_url"}, {"url", path_or_url}});
  else SendRequest(app, {{"op", "load_path"}, {"path", path_or_url}});
}

void StartGeneration(AppState& app) {
  EngineState& e = app.engine;
  if (!e.card.is_object() || e.generating) return;
  const GenerateViewState& g = app.generate;
  Json request = {{"op", "generate"},        {"prompt", g.prompt},
                  {"max_tokens", g.max_tokens}, {"seed", g.seed},
                  {"temperature", g.temperature}, {"top_k", g.top_k},
                  {"top_p", g.top_p},          {"min_p", g.min_p},
                  {"repeat_penalty", g.repeat_penalty}, {"chat", g.chat},
                  {"alternatives", 8}};
  e.generate_error.clear();
  e.generating = true;  // until "prompt" or "error" says otherwise
  e.from_page = false;
  e.generation_request = SendRequest(app, request);
}

void StopGeneration(AppState& app) {
  if (app.engine.generating) SendRequest(app, {{"op", "cancel"}});
}

void ApplyEngineEvent(AppState& app, const Json& event) {
  EngineState& e = app.engine;
  if (!event.is_object()) return;
  const std::string kind = Str(event, "event");
  const int request = Int(event, "request_id");
  if (kind.rfind("train", 0) == 0 || (kind == "error" && Str(event, "op") == "train")) {
    ApplyLessonEvent(app, event);  // the Lessons view's retraining (views/lessons.cpp)
  } else if (kind == "show_view") {  // window.loupe.showView(name): scripts and tests pick a view
    const std::string name = Str(event, "view");
    for (const ViewInfo& v : Views()) {
      std::string a = v.name, b = name;
      for (char& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (a == b) app.view = v.id;
    }
  } else if (kind == "ready") {
    e.ready = true;
    e.threads = Int(event, "threads", 1);
    e.threaded = event.value("threaded", false);
  } else if (kind == "bundled") {
    e.bundled = Entries(event.value("models", Json::array()));
  } else if (kind == "cache") {
    e.cached = Entries(event.value("models", Json::array()));
  } else if (kind == "download") {
    const std::string state = Str(event, "state");
    DownloadState& d = e.download;
    d.name = Str(event, "name");
    d.loaded = Num(event, "loaded");
    d.total = Num(event, "total");
    d.rate = Num(event, "rate");
    d.eta_s = Num(event, "eta_s", -1);
    d.from_cache = event.value("from_cache", false);
    d.active = state == "start" || state == "progress";
    if (state == "start") {
      e.loading = true;
      e.load_error.clear();
      e.load_notice.clear();
    } else if (state == "cancelled") {
      e.loading = false;
      e.load_notice = "Download cancelled.";
    }
  } else if (kind == "loading") {
    e.loading = true;
    e.download.name = Str(event, "name");
  } else if (kind == "loaded") {
    e.loading = false;
    e.download.active = false;
    e.card = event.value("card", Json::object());
    e.load_error.clear();
    if (e.download.from_cache) e.load_notice = "Loaded from this browser's model cache (no download).";
    // What was shown belongs to the previous model.
    e.tokens.clear();
    e.prompt_tokens.clear();
    e.text.clear();
    e.stop_reason.clear();
    e.pieces.clear();
    e.tokenized_text.clear();
    app.tokens.requested.clear();
    app.focus_token = -1;
  } else if (kind == "error") {
    const std::string op = Str(event, "op");
    const std::string message = Str(event, "message");
    if (op == "load" || op == "load_url" || op == "load_path" || op == "pick_file") {
      e.loading = false;
      e.download.active = false;
      e.load_error = message;
    } else if (op == "generate" || (op == "cancel" && e.generating)) {
      e.generating = false;
      e.generate_error = message;
    } else if (op == "tokenize") {
      if (request == e.tokenize_request) {
        e.tokenize_error = message;
        e.pieces.clear();
        e.tokenize_request = -1;
      }
    } else if (op == "explain") {
      e.explain_errors[request] = message;
    } else {
      e.load_error = message;  // cache and other page errors show in the Model view
    }
  } else if (kind == "prompt") {
    e.generating = true;
    e.generation_request = request;
    e.from_page = Str(event, "origin") == "page";
    if (e.from_page) AdoptPageRequest(app.generate, event.value("request", Json()));
    e.prompt = e.from_page ? Str(event.value("request", Json::object()), "prompt") : std::string(app.generate.prompt);
    e.prompt_tokens.clear();
    e.tokens.clear();
    e.text.clear();
    e.stop_reason.clear();
    e.tokens_per_s = 0;
    e.generate_error.clear();
    e.prompt_ms = Num(event, "prompt_ms");
    app.focus_token = -1;
    if (auto t = event.find("tokens"); t != event.end() && t->is_array())
      for (const Json& tok : *t) e.prompt_tokens.push_back(Chip(tok));
  } else if (kind == "token") {
    if (Int(event, "id", -1) >= 0) e.tokens.push_back(Chip(event));
    e.text += Str(event, "text");
  } else if (kind == "done") {
    e.generating = false;
    e.stop_reason = Str(event, "stop_reason");
    e.tokens_per_s = Num(event, "tokens_per_s");
    e.text = Str(event, "text");
  } else if (kind == "tokens") {
    if (request == e.tokenize_request) {
      e.pieces.clear();
      e.piece_bytes.clear();
      if (auto t = event.find("tokens"); t != event.end() && t->is_array()) {
        for (const Json& tok : *t) {
          e.pieces.push_back(Chip(tok));
          e.piece_bytes.push_back(Int(tok, "bytes", 0));
        }
      }
      e.tokenize_error.clear();
      e.tokenize_request = -1;
    }
  } else if (kind == "explain") {
    e.explain_results[request] = event.value("result", Json());
    e.explain_errors.erase(request);
    while (e.explain_results.size() > 8) e.explain_results.erase(e.explain_results.begin());
  }
}

void PumpEngine(AppState& app) {
  EngineState& e = app.engine;
  if (!e.client) {
    e.client = make_engine_client();
    if (!e.startup_model.empty()) OpenModel(app, e.startup_model);
  }
  for (const Json& event : e.client->poll()) ApplyEngineEvent(app, event);
}

}  // namespace loupe::app
