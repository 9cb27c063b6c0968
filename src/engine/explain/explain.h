// Explaining a model's reading of a text: what it expected at every position (token
// statistics, GLTR buckets), how its guess formed layer by layer (logit lens), what it
// attended to (attention, its summaries, head statistics), which input tokens drove an
// output (attributions), and how two models differ on the same text.
//
// Every function here takes token ids and a loaded Model and runs the inference pass
// (model/forward.h) with a Capture; attributions by gradient run the backward pass
// (gradients/gradients.h). explain_json.h turns all of it into the JSON the CLI writes and
// the web page returns.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gradients/gradients.h"
#include "model/forward.h"
#include "model/model.h"

namespace loupe::explain {

// One forward pass over `tokens` (from position 0) capturing the attention probabilities
// and the residual stream, with the logits of every position. With `gradient_inputs` it
// also keeps what gradient x input's backward pass reads (Capture::gradient_inputs, the
// keys), so attribute() needs no forward pass of its own. Throws loupe::Error when the
// text does not fit the context or an id is outside the vocabulary.
struct Trace {
  int n = 0;                      // tokens
  std::vector<int32_t> tokens;    // (n) the ids it ran
  Capture capture;                // attention (layer, head, n, n); residual_stream (layers+1, n, dim)
  std::vector<float> logits;      // (n, vocab)
  UninitializedFloats values;     // (layer, n, kv_dim) the value vectors (for value-weighted attention)
  UninitializedFloats keys;       // (layer, n, kv_dim) the keys after RoPE; only with gradient_inputs
};
Trace trace(const Model& model, std::span<const int32_t> tokens, bool attention = true, bool residual = true,
            bool gradient_inputs = false);

// --- token statistics ---------------------------------------------------------------------

struct TokenProb {
  int32_t id = 0;
  float prob = 0;
};

// How expected token `position` was, given the tokens before it (position >= 1).
struct TokenStat {
  int position = 0;          // the token being predicted
  int32_t id = 0;            // ... its id
  float prob = 0;            // P(id | tokens[0..position-1])
  int rank = 0;              // 1 = the model's top guess
  float surprisal_bits = 0;  // -log2 prob
  float entropy_bits = 0;    // entropy of the whole predicted distribution
  std::vector<TokenProb> top;  // the k most likely tokens, best first
};
// GLTR's buckets of a rank: "top10", "top100", "top1000", "rest".
const char* rank_bucket(int rank);

// Statistics of tokens 1..n-1 from the logits (n, vocab) of a pass over `tokens`.
std::vector<TokenStat> token_statistics(std::span<const float> logits, int vocab, std::span<const int32_t> tokens,
                                        int top_k);

// The top k of one row of logits, as probabilities, best first (ties: lower id first).
std::vector<TokenProb> top_k_probs(const float* logits, int vocab, int k);

// --- logit lens ---------------------------------------------------------------------------

// Each slot of the residual stream (0: the embeddings, l + 1: after block l) sent through
// the final norm and the unembedding. The last slot is the model's own output.
struct LogitLens {
  int slots = 0, n = 0, k = 0;      // n: positions covered (all of the text unless asked)
  std::vector<int> positions;       // (n) which positions of the text, in the order asked
  std::vector<int32_t> top_ids;     // (slots, n, k)
  std::vector<float> top_probs;     // (slots, n, k)
  std::vector<int32_t> chosen_ids;  // (n) the model's final top guess at each position
  std::vector<float> chosen_probs;  // (slots, n) its probability in each slot
};
// The unembedding runs as one batched product of all rows with the model's own kernels
// and the rows are scanned on the thread pool (explain/lens.cpp); the last slot is the
// trace's logits. Results do not depend on the thread count. `positions` (empty: all)
// restricts it to those positions: the full grid of a 128-token text on a 32000-token
// vocabulary costs several forward passes (docs/explain.md, "Cost"), one position's
// column 1/128 of that. Throws loupe::Error for a position outside the text.
LogitLens logit_lens(const Model& model, const Trace& trace, int top_k, std::span<const int> positions = {});
// The same, one slot at a time with each softmax in double: the plain version the tests
// hold logit_lens to.
LogitLens logit_lens_reference(const Model& model, const Trace& trace, int top_k);

// --- attention summaries ------------------------------------------------------------------

// Mean over heads: (layer, n, n).
std::vector<float> attention_mean(const ModelConfig& config, const Trace& trace);
// Attention rollout (Abnar & Zuidema 2020): A_l = ½·mean_heads + ½·I (the residual path),
// rows renormalised, multiplied from layer 0 up: (layer, n, n), slot l = through block l.
std::vector<float> attention_rollout(const ModelConfig& config, const Trace& trace);
// Attention weighted by the size of what each key contributes (Kobayashi et al. 2020):
// α_ij · ‖W_O^h v_j^h‖ per layer, head, query, key: (layer, head, n, n).
std::vector<float> attention_value_weighted(const Model& model, const Trace& trace);

// --- head statistics ----------------------------------------------------------------------

struct HeadStat {
  float entropy_bits = 0;  // mean entropy of the attention rows (queries 1..n-1) on the text
  float prev_token = 0;    // mean weight on the previous token (queries 1..n-1)
  float first_token = 0;   // mean weight on position 0, the "attention sink" (queries 1..n-1)
  float induction = 0;     // on [bos] r r (r: `half` random tokens, seeded): mean weight the
                           // second copy's tokens put on the token after their first occurrence
};
// (layer, head). `trace` is a pass over the text (attention captured, n >= 2).
std::vector<HeadStat> head_statistics(const Model& model, const Trace& trace, uint64_t seed = 0, int half = 0);
// Just the induction scores (layer, head): half = 0 picks min(50, (context - 1) / 2).
std::vector<float> induction_scores(const Model& model, uint64_t seed = 0, int half = 0);
// The repeated random sequence induction_scores reads: [bos] r_1..r_half r_1..r_half.
std::vector<int32_t> repeated_random_tokens(const Model& model, uint64_t seed, int half);

// --- comparing two models -----------------------------------------------------------------

struct Comparison {
  std::vector<float> kl_bits;            // (n) KL(P_a || P_b) of the next-token distributions
  std::vector<uint8_t> top1_agree;       // (n) both models' top guesses are the same token
  std::vector<float> residual_rel_diff;  // (layers+1) ‖r_a − r_b‖ / ‖r_a‖ over all positions; empty when shapes differ
  std::vector<float> attention_diff;     // (layer, head) mean |A_a − A_b| over the causal entries; empty when shapes differ
};
// Throws loupe::Error unless the models share a vocabulary.
Comparison compare_models(const Model& a, const Model& b, std::span<const int32_t> tokens);

// --- attributions -------------------------------------------------------------------------

enum class Method { GradXInput, IntegratedGradients, Occlusion };
Method parse_method(const std::string& name);  // grad_x_input | integrated_gradients | occlusion
const char* method_name(Method method);

struct AttributionRequest {
  Method method = Method::GradXInput;
  int position = -1;          // whose next-token prediction to explain; -1: the last
  int32_t target = -1;        // -1: the actual next token, or the model's top guess at the end
  int32_t contrast = -1;      // >= 0: explain log P(target) − log P(contrast)
  int steps = 32;             // integrated gradients: Riemann midpoints from baseline to input
  // Integrated gradients' baseline: every input row replaced by the embedding of a neutral
  // token (pad, else unknown, else end-of-text, else id 0), by the zero vector, or by the
  // embedding of `baseline_token`. docs/explain.md says why neutral is the default.
  enum class Baseline { Neutral, Zero, Token } baseline = Baseline::Neutral;
  int32_t baseline_token = -1;
  int path_power = 1;         // integrated gradients: α = u^power at the midpoints u (>1 crowds steps near the baseline)
  int32_t replacement = -1;   // occlusion: -1 removes the token, else replaces it by this id
};

struct Attribution {
  Method method = Method::GradXInput;
  int position = 0;
  int32_t target = 0, contrast = -1;
  std::vector<float> scores;  // (position + 1) one per input token; the later ones cannot matter
  float value = 0;            // f(input): log P(target) [− log P(contrast)]
  float baseline_value = 0;   // integrated gradients: f(baseline)
  int32_t baseline_token = -1;  // integrated gradients: the token whose embedding was the baseline; -1 zero
  float completeness_gap = 0; // integrated gradients: Σ scores − (value − baseline_value); small when enough steps
  int steps = 0;
};

// The neutral token of a vocabulary: pad, else unknown, else end-of-text, else 0.
int32_t neutral_token(const Tokenizer& tokenizer);

// Gradient x input, given `pass` (a trace of `tokens` made with gradient_inputs), runs
// only a backward pass, from that inference pass's activations (grad::input_gradient),
// with `backward` (built here when null: pass them to reuse them between calls). Without
// a pass, and for integrated gradients, the gradient pass runs forward and backward in
// f32 on `params` (f32 copies of the weights, built here when null). docs/explain.md
// ("Cost") compares the two.
Attribution attribute(const Model& model, std::span<const int32_t> tokens, const AttributionRequest& request,
                      const grad::Parameters<float>* params = nullptr, const Trace* pass = nullptr,
                      const grad::BackwardWeights* backward = nullptr);

// The gradient inputs a trace kept, as the backward pass reads them (empty n when it kept none).
grad::SavedPass saved_pass(const Trace& trace);

}  // namespace loupe::explain
