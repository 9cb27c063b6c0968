// One request, one JSON document: what `loupe-cli explain` writes and what the web page's
// window.loupe.explain returns, with the same shapes (docs/explain.md describes them).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "explain/explain.h"

namespace loupe::explain {

struct ExplainRequest {
  const Model* model = nullptr;
  const Model* compare = nullptr;   // a second model with the same tokenizer, or null
  std::string prompt;
  std::vector<int32_t> ids;         // used instead of `prompt` when not empty
  int add_bos = -1;                 // -1: as the tokenizer says
  // Sections: "attention", "lens", "stats", "heads", "attribution" ("compare" is added
  // when `compare` is set).
  std::vector<std::string> what = {"attention", "lens", "stats", "heads", "attribution"};
  int top_k = 5;                    // alternatives per position (stats, lens)
  int layer = -1, head = -1;        // >= 0: only this layer / head in the attention section
  std::vector<int> lens_positions;  // not empty: the lens of these positions only (JSON "positions")
  int lens_last = 0;                // > 0 (and no lens_positions): the lens of the last this many positions
  bool attention_summaries = true;  // mean, rollout, value-weighted beside the raw attention
  uint64_t seed = 0;                // the random sequence of the induction test
  int induction_half = 0;           // its length per half (0: min(50, (context - 1) / 2))

  // Attribution. Tokens given as text (one token) or "id:N" / "N" override the ids in
  // `attribution`; empty strings leave them. baseline_token may also be "zero" or "neutral".
  AttributionRequest attribution;
  std::string method;               // "" keeps attribution.method
  std::string target_token, contrast_token, baseline_token, replacement_token;
  const grad::Parameters<float>* params = nullptr;      // integrated gradients' f32 weights to reuse; built when null
  const grad::BackwardWeights* backward = nullptr;      // gradient x input's weights to reuse; built when null
  // Gradient x input from a forward and backward pass of its own in f32 (the weights
  // dequantized), instead of from the inference pass on 8-bit weights: slower, and the
  // gradient of the f32 model to float rounding (JSON attribution.backward says which).
  bool exact_gradients = false;
};

nlohmann::json explain_json(const ExplainRequest& request);

// "id:N" or all digits: the id N; anything else: text that must be exactly one token
// (without BOS). Throws loupe::Error naming `what` otherwise.
int32_t parse_token(const Tokenizer& tokenizer, const std::string& spec, const char* what);
// "attention,lens" -> {"attention", "lens"}; unknown names throw.
std::vector<std::string> parse_sections(const std::string& list);

// One CSV table per section present in `json` (from explain_json): (section name, text).
std::vector<std::pair<std::string, std::string>> explain_csv_tables(const nlohmann::json& json);

}  // namespace loupe::explain
