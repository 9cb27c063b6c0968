// The engine behind a message channel, for front ends that must never block: the app's
// worker thread natively, a Web Worker in the browser, and window.loupe. Requests and
// events are JSON objects; long jobs (generation) advance one step per call to step(),
// so the host can read a "cancel" between tokens and stream events as they come.
//
// Requests ({"op": ...}):
//   load      (bytes given beside the JSON)  -> {"event":"loaded","card":{...}}
//   info                                     -> {"event":"info","card":{...}}
//   tokenize  {text, bos?}                   -> {"event":"tokens","tokens":[{id,text,bytes}]}
//   generate  {prompt, seed?, max_tokens?, temperature?, top_k?, top_p?, min_p?,
//              repeat_penalty?, chat?, alternatives?}
//             -> {"event":"prompt",...}, then one {"event":"token",...} per step(),
//                then {"event":"done", ids, text, stop_reason, tokens_per_s, ...}
//   explain   {prompt, what?, target_token?, method?, contrast_token?, ...}
//             -> {"event":"explain","result":{...}} (the CLI's JSON, docs/explain.md)
//   cancel                                   -> ends the running generation
// Every failure is {"event":"error","op":...,"message":...}; the session stays usable
// and keeps its previous model.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "sampling/generate.h"

namespace loupe {

class Session {
 public:
  using Json = nlohmann::json;

  // Handles one request; returns the events it produces at once.
  std::vector<Json> handle(const Json& request, std::vector<uint8_t> bytes = {});
  // Advances a running generation by one token. Returns its events (empty when idle).
  std::vector<Json> step();
  bool busy() const { return generation_ != nullptr; }
  const Model* model() const { return model_.get(); }

 private:
  std::vector<Json> start_generation(const Json& request);
  Json token_event(const GeneratedToken& token) const;
  Json done_event() const;

  std::unique_ptr<Model> model_;
  std::unique_ptr<Generation> generation_;
  int alternatives_ = 5;
};

// The settings of a "generate" request (absent fields keep llama.cpp's defaults).
GenerateRequest generate_request_from_json(const nlohmann::json& request);

}  // namespace loupe
