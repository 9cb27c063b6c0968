// The explain JSON (docs/explain.md; the engine's explain_json, sent back by the Session
// as {"event":"explain","result":{...}}) as plain data for the Attention, Logit lens and
// Attribution views. The views draw only this struct, so tests can hand them a synthetic
// one without an engine. Parsing checks every shape: a malformed or hostile document
// gives an error message, never a crash or an out-of-range read.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace loupe::app {

struct ExplainToken {
  int id = 0;
  std::string text;
};

struct HeadStatistics {
  float entropy = 0;      // bits, mean over the queries 1..n-1
  float prev_token = 0;   // mean weight on the previous token
  float first_token = 0;  // mean weight on position 0 ("attention sink")
  float induction = 0;    // induction score on a repeated random sequence
};

struct ExplainResult {
  std::string model_name;
  int n_layers = 0, n_heads = 0;
  std::vector<ExplainToken> tokens;  // the prompt's tokens; n = tokens.size()

  // attention[li * heads + hi] is the (query, key) matrix, row-major n x n, of layer
  // attention_layers[li] and head attention_heads[hi].
  std::vector<int> attention_layers, attention_heads;
  std::vector<std::vector<float>> attention;
  std::vector<std::vector<float>> mean, rollout;  // per layer (n_layers), n x n; empty when absent

  std::vector<HeadStatistics> heads;  // n_layers * n_heads, empty when absent

  // Logit lens: slot 0 is the embeddings, slot l + 1 the residual stream after block l.
  // The engine computes it for the positions asked for (the JSON's lens.positions: the
  // Logit-lens view asks for those it shows); the arrays span every position, and
  // lens_held says which ones they hold.
  int lens_slots = 0, lens_k = 0;
  std::vector<uint8_t> lens_held;       // (position) 1 where the lens is known
  std::vector<int> lens_top_ids;        // (slot, position, k)
  std::vector<float> lens_top_probs;    // (slot, position, k)
  std::vector<ExplainToken> lens_chosen;   // (position) the model's final top guess
  std::vector<float> lens_chosen_probs;    // (slot, position)

  // Attribution.
  bool has_attribution = false;
  std::string method;  // grad_x_input | integrated_gradients | occlusion
  int target_position = 0, target_id = 0, contrast_id = -1, steps = 0;
  std::string target_text, contrast_text;
  float value = 0, completeness_gap = 0;
  std::vector<float> scores;  // one per input token up to target_position

  // Every token text the document names (prompt, lens, stats, attribution), by id.
  std::unordered_map<int, std::string> vocab;

  int n() const { return static_cast<int>(tokens.size()); }
  bool has_attention() const { return !attention.empty(); }
  bool has_lens() const { return lens_slots > 0; }
  bool LensHeld(int position) const {
    return position >= 0 && static_cast<size_t>(position) < lens_held.size() && lens_held[static_cast<size_t>(position)];
  }
  // The matrix of (layer, head), or null when the document does not hold it.
  const float* Attention(int layer, int head) const;
  // Known text of a token id, else "id:N".
  std::string TokenText(int id) const;
  float LensProb(int slot, int position, int k) const {
    return lens_top_probs[(static_cast<size_t>(slot) * n() + position) * lens_k + k];
  }
  int LensId(int slot, int position, int k) const {
    return lens_top_ids[(static_cast<size_t>(slot) * n() + position) * lens_k + k];
  }
};

// Limits that keep a hostile document from exhausting memory.
inline constexpr int kMaxExplainTokens = 4096;
inline constexpr int kMaxExplainLayers = 256;
inline constexpr int kMaxExplainHeads = 256;

// Parses the "result" object of an explain event. On failure returns nullopt and sets
// `error` to a sentence naming the field that is wrong.
std::optional<ExplainResult> ParseExplainResult(const nlohmann::json& result, std::string* error);

// Copies the lens positions `from` holds into `into` (a lens of the same text and shape,
// computed later for more positions). False, changing nothing, when they do not match.
bool MergeLens(ExplainResult& into, const ExplainResult& from);

// A made-up result of the given shape (for tests): each head attends to a different
// mixture of the previous token, the first token and itself; the lens gets more confident
// with depth; attributions fall off with distance.
ExplainResult SyntheticExplainResult(int layers, int heads, const std::vector<std::string>& tokens);

// Printable form of a token for labels: spaces shown as "·", newlines as "\n".
std::string DisplayToken(const std::string& text);

}  // namespace loupe::app
