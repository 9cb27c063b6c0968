// The engine behind a message channel, for front ends that must never block: the app's
// worker thread natively, a Web Worker in the browser, and window.loupe. Requests and
// events are JSON objects; long jobs (generation) advance one step per call to step(),
// so the host can read a "cancel" between tokens and stream events as they come.
//
// Requests ({"op": ...}):
//   load      (bytes given beside the JSON)  -> {"event":"loaded","card":{...}}
//             a GGUF file; or a safetensors model as its files, one after another in
//             the bytes, with {files: [{name, bytes}, ...]} (config.json, tokenizer.json, ...)
//   info                                     -> {"event":"info","card":{...}}
//   tokenize  {text, bos?}                   -> {"event":"tokens","tokens":[{id,text,bytes}]}
//   generate  {prompt, seed?, max_tokens?, temperature?, top_k?, top_p?, min_p?,
//              repeat_penalty?, chat?, alternatives?}
//             -> {"event":"prompt",...}, then one {"event":"token",...} per step(),
//                then {"event":"done", ids, text, stop_reason, tokens_per_s, ...}
//   explain   {prompt, what?, target_token?, method?, contrast_token?, ...}
//             -> {"event":"explain","result":{...}} (the CLI's JSON, docs/explain.md)
//   train     {recipe: "two-cities", skew, seed?, steps?, stories?, load?}
//             -> {"event":"train_start", steps, parameters, shares, ...}, then
//                {"event":"train_progress", step, steps, loss, tokens_per_s, seconds_left}
//                from step() (a training step per call, an event at most every 0.2 s),
//                then {"event":"trained", bias: {...}, ...} with the model's pronoun bias per
//                occupation beside the data's skew, and (load, default true) the trained
//                model becomes the current one: {"event":"loaded","card":{...}}
//   cancel                                   -> ends the running generation
//                                               ({"event":"done"}) or training
//                                               ({"event":"train_cancelled"})
// Every failure is {"event":"error","op":...,"message":...}; the session stays usable
// and keeps its previous model.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gradients/gradients.h"
#include "model/model.h"
#include "sampling/generate.h"

namespace loupe::train {
class TwoCitiesTraining;
}

namespace loupe {

class Session {
 public:
  using Json = nlohmann::json;

  // Handles one request; returns the events it produces at once.
  std::vector<Json> handle(const Json& request, std::vector<uint8_t> bytes = {});
  Session();
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Advances a running generation by one token, or a training by one optimizer step.
  // Returns its events (empty when idle).
  std::vector<Json> step();
  bool busy() const { return generation_ != nullptr || training_ != nullptr; }
  bool training() const { return training_ != nullptr; }
  const Model* model() const { return model_.get(); }

 private:
  std::vector<Json> start_generation(const Json& request);
  Json token_event(const GeneratedToken& token) const;
  Json done_event() const;
  std::vector<Json> start_training(const Json& request);
  std::vector<Json> training_step();

  // The running training and what its progress events need.
  struct TrainingRun {
    double started_s = 0, last_event_s = 0;  // steady-clock seconds
    double loss_sum = 0;
    int loss_count = 0;
    float last_loss = 0;
    bool load = true;
  };

  std::unique_ptr<Model> model_;
  // The weights the attribution's backward passes read — transposed Q8_0 for gradient x
  // input, f32 for integrated gradients — built at the first request that needs them and
  // kept with the model (rebuilding them cost several forward passes per request);
  // dropped whenever the model changes.
  std::unique_ptr<grad::Parameters<float>> gradient_weights_;
  std::unique_ptr<grad::BackwardWeights> backward_weights_;
  std::unique_ptr<Generation> generation_;
  int alternatives_ = 5;
  std::unique_ptr<train::TwoCitiesTraining> training_;
  TrainingRun run_;
};

// The settings of a "generate" request (absent fields keep llama.cpp's defaults).
GenerateRequest generate_request_from_json(const nlohmann::json& request);

}  // namespace loupe
