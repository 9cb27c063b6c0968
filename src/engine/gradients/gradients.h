// The backward pass: gradients of a model's outputs with respect to its input embeddings
// and, when asked, every weight. Written once for both families, in llm.c's style: each
// layer is a pair `xxx_forward` / `xxx_backward` with the same argument order
// (gradients/layers.h), activations and gradients are plain arrays in structs, and the
// model's pass (gradients.cpp) strings the pairs together in the order of
// model/llama.cpp and model/gpt2.cpp.
//
// Everything runs on plain f32 (or f64, for finite-difference checks) copies of the
// weights: `parameters_from_model` dequantizes a loaded model of any tensor type. The
// inference pass (model/) stays the fast path; this one is for attribution and training.
// Two deliberate differences from the inference pass: GELU is the exact tanh curve here
// (inference rounds it through f16 as llama.cpp does), and matrix products are f32/f64
// against the dequantized weights (inference rounds activations to 8 bits for Q8_0/Q4
// weights). Both are far below the effects the explanations show.
//
// Training (the next step) uses the same pieces: a Parameters<float> for the model, a
// Parameters<float> of the same shape for its gradients, and `cross_entropy_backward` on
// a batch of token sequences.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "model/model.h"

namespace loupe::grad {

// One layer's weights. Shapes as ggml's with rows first in the comments: a matrix
// `(out, in)` holds `out` rows of `in` values, and y = W x means y[r] = W[r] · x.
template <class T>
struct LayerParameters {
  std::vector<T> attn_norm, attn_norm_bias;  // (dim); the bias for GPT-2 only
  std::vector<T> wq, bq;                     // (n_heads*head_dim, dim), (n_heads*head_dim) Llama/Qwen2
  std::vector<T> wk, bk;                     // (n_kv_heads*head_dim, dim), (kv_dim)
  std::vector<T> wv, bv;                     // (n_kv_heads*head_dim, dim), (kv_dim); biases Qwen2 only
  std::vector<T> wqkv, bqkv;                 // GPT-2: (3*dim, dim), (3*dim): rows q, then k, then v
  std::vector<T> wo, bo;                     // (dim, n_heads*head_dim), (dim); bias GPT-2 only
  std::vector<T> ffn_norm, ffn_norm_bias;    // (dim)
  std::vector<T> w_gate;                     // (ff_dim, dim) Llama/Qwen2
  std::vector<T> w_up, b_up;                 // (ff_dim, dim), (ff_dim); bias GPT-2 only
  std::vector<T> w_down, b_down;             // (dim, ff_dim), (dim); bias GPT-2 only
};

// All weights of a model as plain arrays. Empty vectors are weights the architecture does
// not have. The same struct holds gradients (make_zero_like).
template <class T>
struct Parameters {
  ModelConfig config;
  std::vector<T> token_embedding;     // (vocab, dim)
  std::vector<T> position_embedding;  // (context, dim) GPT-2 only
  std::vector<LayerParameters<T>> layers;
  std::vector<T> output_norm, output_norm_bias;  // (dim)
  std::vector<T> output;              // (vocab, dim); empty when tied to token_embedding
  std::vector<float> rope_freq_factors;  // (rope_dims/2) or empty: Llama 3 RoPE slow-down (not trained)

  const std::vector<T>& unembedding() const { return output.empty() ? token_embedding : output; }
  // Every trainable array, in a fixed order (for optimizers, and for gradient checks).
  std::vector<std::vector<T>*> arrays();
  std::vector<const std::vector<T>*> arrays() const;
  size_t count() const;  // number of scalars
};

// f32 (or f64) copies of `model`'s weights, dequantized from whatever type they are stored in.
template <class T>
Parameters<T> parameters_from_model(const Model& model);

// Zeros of the same shapes as `p` (a gradient buffer).
template <class T>
Parameters<T> zeros_like(const Parameters<T>& p);

template <class T>
Parameters<T> convert(const Parameters<float>& p);  // to T (tests check in double)

// What one layer's forward pass keeps for its backward pass. (n = tokens in the sequence)
template <class T>
struct LayerActivations {
  std::vector<T> x;           // (n, dim) residual entering the layer
  std::vector<T> ln1;         // (n, dim) normed input of attention
  std::vector<T> ln1_mean;    // (n) LayerNorm only
  std::vector<T> ln1_rstd;    // (n) 1 / rms or 1 / std
  std::vector<T> q;           // (n, n_heads*head_dim) after RoPE
  std::vector<T> k;           // (n, kv_dim) after RoPE
  std::vector<T> v;           // (n, kv_dim)
  std::vector<T> probs;       // (n_heads, n, n) attention probabilities, 0 above the diagonal
  std::vector<T> att;         // (n, n_heads*head_dim) attention output before the projection
  std::vector<T> x_mid;       // (n, dim) residual after attention
  std::vector<T> ln2;         // (n, dim)
  std::vector<T> ln2_mean, ln2_rstd;  // (n)
  std::vector<T> gate;        // (n, ff_dim) Llama: pre-activation gate; GPT-2: pre-GELU up
  std::vector<T> up;          // (n, ff_dim) Llama: up projection
  std::vector<T> hidden;      // (n, ff_dim) silu(gate)*up, or gelu(up)
};

template <class T>
struct Activations {
  int n = 0;
  std::vector<T> x0;                       // (n, dim) input of layer 0 (token [+ position] embedding)
  std::vector<LayerActivations<T>> layers;
  std::vector<T> x_final;                  // (n, dim) residual after the last layer
  std::vector<T> lnf, lnf_mean, lnf_rstd;  // (n, dim), (n), (n)
  std::vector<int> logit_rows;             // positions whose logits were computed
  std::vector<T> logits;                   // (logit_rows.size(), vocab)
};

// The forward pass from token-embedding rows (n, dim): the input attributions perturb.
// GPT-2 adds the position embeddings of positions 0..n-1 inside. Computes the logits of
// `logit_rows` only (every position for training, one for an attribution target).
template <class T>
void model_forward(const Parameters<T>& p, const T* token_rows, int n, std::span<const int> logit_rows,
                   Activations<T>& a);

// The backward pass of the last model_forward: `dlogits` (logit_rows.size(), vocab) is
// dLoss/dlogits. Writes dLoss/d(token rows) into d_token_rows (n, dim) when not null, and
// adds weight gradients into `grads` when not null (its token_embedding receives the
// unembedding gradient when tied, and the rows of the given `tokens` when not empty).
template <class T>
void model_backward(const Parameters<T>& p, Activations<T>& a, const T* dlogits, T* d_token_rows,
                    Parameters<T>* grads, std::span<const int32_t> tokens = {});

// Token-embedding rows (n, dim) of `tokens`.
template <class T>
std::vector<T> embed_tokens(const Parameters<T>& p, std::span<const int32_t> tokens);

// --- objectives ------------------------------------------------------------------------

// log P(target | tokens[0..position]) - log P(contrast | ...) (contrast < 0: no second
// term) at `position`, for token-embedding rows `token_rows` (n, dim). Returns the value;
// writes its gradient with respect to the rows into `grad_rows` (n, dim) when not null.
template <class T>
T log_prob_objective(const Parameters<T>& p, const T* token_rows, int n, int position, int32_t target,
                     int32_t contrast, T* grad_rows, Activations<T>& scratch);

// Mean cross-entropy (nats) of predicting targets[b][t] from inputs[b][0..t], over a batch
// of `batch` sequences of `seq_len` tokens each (inputs and targets: (batch, seq_len);
// a target < 0 is skipped). Adds the gradient of that mean into `grads` when not null.
template <class T>
T cross_entropy_backward(const Parameters<T>& p, std::span<const int32_t> inputs, std::span<const int32_t> targets,
                         int batch, int seq_len, Parameters<T>* grads);

}  // namespace loupe::grad
