// Running a model: the state a forward pass keeps between calls (the KV cache and
// scratch buffers) and what it can capture on the way (attention probabilities, the
// residual stream, block outputs) for the explanation views. Nothing is captured unless
// asked for, and then the pass does no extra work beyond copying what it already has.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/memory.h"
#include "model/model.h"

namespace loupe {

// What a forward pass should record. All off by default.
struct Capture {
  bool attention_probs = false;  // softmax(q·k/sqrt(d)) for every layer and head
  bool residual = false;         // the residual stream entering and leaving every block
  bool block_outputs = false;    // what attention and the MLP each add to the residual
  // What the input-gradient pass (gradients/gradients.h, SavedPass) reads besides the
  // attention and the residual stream: the queries, the residual between attention and
  // MLP, and the MLP's inputs to its activation. (Keys and values are in the KV cache.)
  // A pass from position 0 only.
  bool gradient_inputs = false;

  // Filled by forward(), covering only the tokens of that call (n_tokens queries) and all
  // keys up to them (n_keys = positions before the call + n_tokens).
  int n_tokens = 0;
  int n_keys = 0;
  std::vector<float> attention;         // (layer, head, n_tokens, n_keys); future keys are 0
  std::vector<float> residual_stream;   // (n_layers + 1, n_tokens, dim): [0] embeddings, [l+1] after block l
  std::vector<float> attention_output;  // (layer, n_tokens, dim)
  std::vector<float> mlp_output;        // (layer, n_tokens, dim)
  std::vector<float> queries;           // (layer, n_tokens, n_heads*head_dim) after RoPE (GPT-2: with bias)
  std::vector<float> residual_mid;      // (layer, n_tokens, dim) after attention, entering the MLP
  std::vector<float> mlp_gate;          // (layer, n_tokens, ff_dim) Llama: Wgate·x before SiLU; GPT-2: Wup·x+b before GELU
  std::vector<float> mlp_up;            // (layer, n_tokens, ff_dim) Llama: Wup·x; GPT-2: empty
};

struct InferenceState {
  int context = 0;   // positions the KV cache holds
  int n_past = 0;    // positions already in the cache
  // (layer, context, n_kv_heads * head_dim) each; positions past n_past are unset
  UninitializedFloats key_cache, value_cache;
  float rope_theta_scale = 1;      // base^(-2/rope_dims): pair i turns at pos * scale^i
  std::vector<float> rope_freq_factors;  // (rope_dims / 2) or empty: Llama 3 slow-down per pair
  std::vector<float> logits;       // (rows, vocab): the last position, or every position

  // Scratch for one call, sized on demand: (n_tokens, width) each.
  std::vector<float> x, normed, q, k, v, attn_out, ffn_gate, ffn_up, block_out;
  std::vector<float> rope_cos, rope_sin;  // (n_tokens, rope_dims / 2): this call's angles
};

// A state for `model` holding up to `context` positions (0: the model's own context).
InferenceState make_state(const Model& model, int context = 0);

// Runs `tokens` at positions n_past.. and appends them to the KV cache. Leaves the logits
// of the last token in state.logits, or of every token (n_tokens rows) when
// `all_logits`. Throws loupe::Error if the tokens do not fit in the context or an id is
// outside the vocabulary.
void forward(const Model& model, InferenceState& state, std::span<const int32_t> tokens,
             bool all_logits = false, Capture* capture = nullptr);

// The forward pass of each architecture (model/llama.cpp, model/gpt2.cpp).
void llama_forward(const Model& model, InferenceState& state, std::span<const int32_t> tokens,
                   bool all_logits, Capture* capture);
void gpt2_forward(const Model& model, InferenceState& state, std::span<const int32_t> tokens,
                  bool all_logits, Capture* capture);

// Shared pieces, called by name from the forward passes (model/blocks.cpp).
// Causal self-attention of n_tokens queries (positions n_past..) over the cached keys and
// values of `layer`. q: (n_tokens, n_heads*head_dim); out: the same shape.
void causal_attention(const ModelConfig& config, InferenceState& state, int layer, int n_tokens,
                      const float* q, float* out, Capture* capture);
// Copies k and v (n_tokens, kv_dim) into the cache of `layer` at positions n_past..;
// with `rotate`, each key head is turned by RoPE on its way in (state.rope_cos/sin).
void store_kv(const ModelConfig& config, InferenceState& state, int layer, int n_tokens,
              const float* k, const float* v, bool rotate = false);
// Unembeds `n_rows` final-normed rows (n_rows, dim) into state.logits (n_rows, vocab).
void unembed(const Model& model, InferenceState& state, const float* normed_rows, int n_rows);
// Grows `buffer` to hold at least `n` floats and returns its data.
float* scratch(std::vector<float>& buffer, size_t n);
void record_residual(const ModelConfig& config, Capture* capture, int slot, const float* x, int n_tokens);
void record_block_output(const ModelConfig& config, std::vector<float>* where, int layer,
                         const float* out, int n_tokens);
// Copies `width` floats per token (n_tokens rows) into slot `layer` of a capture array.
void record_rows(std::vector<float>& where, int layer, const float* rows, int n_tokens, int width);

}  // namespace loupe
