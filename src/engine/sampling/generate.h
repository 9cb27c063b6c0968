// The generation loop: tokenize the prompt, read it in one forward pass, then sample one
// token at a time, streaming each out as complete UTF-8 text, until the model ends its
// text, the requested number of tokens is reached, the caller stops it, or the context
// is full (a clear stop with its reason, never a silent truncation).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/forward.h"
#include "model/model.h"
#include "sampling/sampler.h"

namespace loupe {

struct GenerateRequest {
  std::string prompt;
  bool chat = false;          // wrap the prompt in the model's chat template
  int add_bos = -1;           // -1: as the model's tokenizer says; 0 or 1 to force
  SamplingSettings sampling;
  int max_tokens = 128;
  bool stop_at_end_of_text = true;
};

struct GeneratedToken {
  int32_t id = 0;
  std::string text;      // the complete UTF-8 this token finished (may be empty)
  float probability = 0; // of this token under the model (temperature 1), for shading
};

struct GenerateResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> ids;   // generated tokens only
  std::string text;           // generated text only
  std::string stop_reason;    // "max_tokens", "end_of_text", "context_full", "stopped"
  double prompt_ms = 0;
  double generate_ms = 0;
};

// One generation, one token per call to next(): for UIs that must stay responsive and
// be able to stop between tokens (the browser worker, the app). generate() below is the
// same loop run to the end.
class Generation {
 public:
  // Tokenizes the prompt and reads it (one forward pass). Throws loupe::Error for an empty
  // prompt or one that does not fit in the context.
  Generation(const Model& model, const GenerateRequest& request);
  // Samples the next token into `token`; false when generation has ended (then
  // result().stop_reason says why, and `token` may carry the last held-back text).
  bool next(GeneratedToken& token);
  // Ends generation early, as the user's stop button does.
  void stop();
  bool finished() const { return finished_; }
  const GenerateResult& result() const { return result_; }
  // The distribution the last token was drawn from (temperature 1), for alternatives.
  std::span<const float> last_logits() const { return last_logits_; }

 private:
  const Model& model_;
  GenerateRequest request_;
  InferenceState state_;
  Rng rng_;
  StreamDecoder decoder_;
  std::vector<int32_t> history_;
  std::vector<float> last_logits_;
  GenerateResult result_;
  bool finished_ = false;
  double generate_ms_start_ = 0;
};

// `on_token` is called for every generated token; returning false stops generation.
GenerateResult generate(const Model& model, const GenerateRequest& request,
                        const std::function<bool(const GeneratedToken&)>& on_token = {});

// The prompt's token ids exactly as generate() would feed them.
std::vector<int32_t> prompt_tokens(const Model& model, const std::string& prompt, bool chat, int add_bos);

// True for the end-of-text token and the end-of-turn markers of instruct models.
bool is_end_of_text(const Tokenizer& tokenizer, int32_t id);

}  // namespace loupe
