// What the app knows about the engine, built only from the events it sent back: the
// loaded model's card, a download or load in progress, the running or last generation,
// the last tokenization, explain results. PumpEngine() reads the events once per frame;
// the views read this state and send requests with SendRequest().
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine_client.h"

namespace loupe::app {

struct AppState;

struct TokenAlternative {
  int id = 0;
  std::string text;
  float prob = 0;
};

// One token of a prompt or a generation, as the engine reported it.
struct TokenChip {
  int id = 0;
  std::string piece;  // the token's own text (sanitized UTF-8)
  float prob = -1;    // probability under the model (temperature 1); -1 for prompt tokens
  std::vector<TokenAlternative> alternatives;  // the most likely tokens at this position
};

// A model file the app can offer: bundled in assets/models, or kept in the browser's cache.
struct ModelEntry {
  std::string name;
  std::string url;  // a URL on the web, a path natively
  uint64_t bytes = 0;
};

struct DownloadState {
  bool active = false;
  std::string name;     // URL or file name
  double loaded = 0;    // bytes received
  double total = 0;     // 0 when the server did not say
  double rate = 0;      // bytes per second
  double eta_s = -1;    // seconds left; -1 unknown
  bool from_cache = false;
};

struct EngineState {
  std::unique_ptr<EngineClient> client;  // made on the first PumpEngine()
  bool ready = false;     // the engine (thread or Web Worker) has started
  int threads = 0;        // threads its kernels use
  bool threaded = false;
  std::string startup_model;  // natively: `loupe --model M`, opened once the engine is up

  // The model.
  nlohmann::json card;           // null until a model loads
  bool loading = false;          // bytes are on their way to the engine
  DownloadState download;
  std::string load_error;        // the last failure, shown until the next attempt
  std::string load_notice;       // e.g. "loaded from the browser's cache"
  std::vector<ModelEntry> bundled;
  std::vector<ModelEntry> cached;

  // Generation: the running one or the last.
  bool generating = false;
  bool from_page = false;        // started by window.loupe rather than the app's controls
  int generation_request = -1;
  std::string prompt;
  std::vector<TokenChip> prompt_tokens;
  std::vector<TokenChip> tokens;
  std::string text;
  std::string stop_reason;
  double tokens_per_s = 0;
  double prompt_ms = 0;
  std::string generate_error;

  // Tokenization (Tokens view).
  int tokenize_request = -1;
  std::string tokenized_text;    // the text the pieces below belong to
  std::vector<TokenChip> pieces;
  std::vector<int> piece_bytes;  // bytes per piece
  std::string tokenize_error;

  // Explain results by request id (the Attention, Logit lens and Attribution views).
  std::map<int, nlohmann::json> explain_results;
  std::map<int, std::string> explain_errors;

  int next_request_id = 1;
};

// Sends `request` with a fresh "id"; returns that id.
int SendRequest(AppState& app, nlohmann::json request, std::vector<uint8_t> bytes = {});
// Reads the engine's events (once per frame).
void PumpEngine(AppState& app);
// Applies one event to the state (public for tests).
void ApplyEngineEvent(AppState& app, const nlohmann::json& event);

// Opens a model: a path natively, a URL on the web (http(s) or a page-relative path).
void OpenModel(AppState& app, const std::string& path_or_url);
// Starts a generation with the Generate view's settings.
void StartGeneration(AppState& app);
void StopGeneration(AppState& app);

// "1.2 MB", "340 kB", "12 B".
std::string FormatBytes(double bytes);
// "124.4 M", "1.1 B".
std::string FormatCount(double count);

}  // namespace loupe::app
