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

// --- the input gradient from an inference pass -----------------------------------------
// An attribution needs d f / d(token rows) only, and the inference pass (model/forward.h)
// has already computed every activation the backward pass reads: with
// Capture::gradient_inputs it keeps them. These are pointers into such a pass over n
// tokens from position 0, all row-major with n rows per layer.
struct SavedPass {
  int n = 0;
  const float* residual = nullptr;      // (layers + 1, n, dim): [l] entering block l, [layers] after the last
  const float* residual_mid = nullptr;  // (layers, n, dim) after attention, entering the MLP
  const float* queries = nullptr;       // (layers, n, n_heads*head_dim) after RoPE (GPT-2: with bias)
  const float* keys = nullptr;          // (layers, n, kv_dim) after RoPE (GPT-2: with bias)
  const float* values = nullptr;        // (layers, n, kv_dim)
  const float* attention = nullptr;     // (layers, n_heads, n, n) probabilities, 0 for future keys
  const float* mlp_gate = nullptr;      // (layers, n, ff_dim) Llama: before SiLU; GPT-2: before GELU
  const float* mlp_up = nullptr;        // (layers, n, ff_dim) Llama only
};

// The weights of the input-gradient pass. Its products are d_in = d_out · W for each
// matrix W (out, in) of the model; stored transposed, Wᵀ (in, out), each is the same
// product the inference pass runs (kernels/matmul.h: d_in row r = Wᵀ row r · d_out), with
// its kernels and its speed. Matrices that take the same gradient are stacked: q, k and v
// ([Wq; Wk; Wv]ᵀ, one row of dq|dk|dv in), gate and up ([Wgate; Wup]ᵀ). Stored as Q8_0
// (packed where the CPU has packed kernels): the gradients are rounded to 8 bits per
// block of 32 on the way in, as the inference pass rounds its activations; a matrix whose
// rows are not whole blocks stays f32. With `type` F32 every product is f32 (for tests).
// Built once per model (~the size of its Q8_0 weights).
struct BackwardWeights {
  BackwardWeights() = default;
  BackwardWeights(const BackwardWeights&) = delete;  // the views point into `storage`
  BackwardWeights& operator=(const BackwardWeights&) = delete;
  BackwardWeights(BackwardWeights&&) = default;
  BackwardWeights& operator=(BackwardWeights&&) = default;

  ModelConfig config;
  struct Layer {
    TensorView qkv;      // (dim, q_dim + 2 kv_dim): [Wq; Wk; Wv]ᵀ, GPT-2 Wqkvᵀ
    TensorView out;      // (q_dim, dim): Woᵀ
    TensorView gate_up;  // (dim, 2 ff): [Wgate; Wup]ᵀ, GPT-2 (dim, ff): Wupᵀ
    TensorView down;     // (ff, dim): Wdownᵀ
    std::vector<float> attn_norm, ffn_norm;  // (dim) the norms' weights (their biases do not matter here)
  };
  std::vector<Layer> layers;
  TensorView unembedding;  // (dim, vocab): Uᵀ
  std::vector<float> output_norm;
  std::vector<float> rope_freq_factors;  // as Parameters
  std::vector<std::vector<uint8_t>> storage;  // the bytes the views point into
};
BackwardWeights backward_weights(const Model& model, TensorType type = TensorType::Q8_0);

// d f / d(token rows) (position + 1, dim) into d_token_rows, for an f whose gradient with
// respect to the logits of `position` is `dlogits` (vocab) and which depends on no other
// logits: the backward pass without a forward pass of its own and without weight
// gradients, layer by layer in reverse as in model_backward, reading `saved`. (Rows after
// `position` cannot influence f and are not computed.)
void input_gradient(const BackwardWeights& w, const SavedPass& saved, int position, const float* dlogits,
                    float* d_token_rows);

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
