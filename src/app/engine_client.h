// The app's one way to reach the engine. Requests go out as JSON (the ops of
// src/engine/session/session.h: load, info, tokenize, generate, explain, cancel) and
// events come back; the frame loop reads them once per frame with poll() and never waits.
// Natively a worker thread owns the engine Session; in the browser a Web Worker does
// (web/engine-worker.js running the engine-only wasm build), so the page stays
// responsive while a model loads, generates or explains.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace loupe::app {

class EngineClient {
 public:
  virtual ~EngineClient() = default;
  // Queues a request; `bytes` carries a model file for {"op":"load"}.
  virtual void send(const nlohmann::json& request, std::vector<uint8_t> bytes = {}) = 0;
  // The events that arrived since the last call, in order.
  virtual std::vector<nlohmann::json> poll() = 0;
};

// A worker thread natively; the Web Worker bridge in the browser.
std::unique_ptr<EngineClient> make_engine_client();

}  // namespace loupe::app
