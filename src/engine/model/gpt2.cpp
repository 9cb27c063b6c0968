// GPT-2's forward pass. Read top to bottom:
//
//   x = token_embedding(token) + position_embedding(position)
//   for each layer:
//     x += Wproj · attention(split(Wqkv · layernorm(x) + b)) + b
//     x += Wdown · gelu(Wup · layernorm(x) + b) + b
//   logits = Wout · layernorm(x)
//
// Unlike Llama: LayerNorm with bias, learned absolute positions (no RoPE), one stacked
// q/k/v matrix, GELU, biases everywhere.
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/forward.h"

namespace loupe {

void gpt2_forward(const Model& model, InferenceState& state, std::span<const int32_t> tokens,
                  bool all_logits, Capture* capture) {
  const ModelConfig& c = model.config;
  const ModelWeights& w = model.weights;
  const int n = int(tokens.size());
  const int dim = c.dim;
  std::vector<float> norm_scratch, bias_scratch, position(static_cast<size_t>(dim));

  float* x = scratch(state.x, size_t(n) * dim);              // (n, dim) the residual stream
  float* normed = scratch(state.normed, size_t(n) * dim);    // (n, dim)
  float* qkv = scratch(state.q, size_t(n) * 3 * dim);        // (n, 3*dim): q | k | v
  float* q = scratch(state.k, size_t(n) * dim);              // (n, dim)
  float* kv = scratch(state.v, size_t(n) * 2 * dim);         // (n, 2*dim): k rows then v rows
  float* attn = scratch(state.attn_out, size_t(n) * dim);    // (n, dim)
  float* hidden = scratch(state.ffn_up, size_t(n) * c.ff_dim);  // (n, ff_dim)
  float* out = scratch(state.block_out, size_t(n) * dim);    // (n, dim) what a block adds

  for (int t = 0; t < n; ++t) {
    float* row = x + size_t(t) * dim;
    read_row(w.token_embedding, tokens[size_t(t)], row);
    read_row(w.position_embedding, state.n_past + t, position.data());
    add_in_place(row, position.data(), dim);
  }
  record_residual(c, capture, 0, x, n);

  for (int layer = 0; layer < c.n_layers; ++layer) {
    const LayerWeights& lw = w.layers[size_t(layer)];

    // Attention: layernorm, one matrix for q, k and v, attend, project.
    const float* ln1 = f32_data(lw.attn_norm, norm_scratch);
    const float* ln1_bias = f32_data(lw.attn_norm_bias, bias_scratch);
    for (int t = 0; t < n; ++t)
      layernorm(normed + size_t(t) * dim, x + size_t(t) * dim, ln1, ln1_bias, dim, c.norm_eps);
    matmul_bias(lw.wqkv, lw.bqkv, normed, n, qkv);
    float* k = kv;
    float* v = kv + size_t(n) * dim;
    for (int t = 0; t < n; ++t) {
      const float* row = qkv + size_t(t) * 3 * dim;
      std::copy(row, row + dim, q + size_t(t) * dim);
      std::copy(row + dim, row + 2 * dim, k + size_t(t) * dim);
      std::copy(row + 2 * dim, row + 3 * dim, v + size_t(t) * dim);
    }
    store_kv(c, state, layer, n, k, v);
    if (capture && capture->gradient_inputs) record_rows(capture->queries, layer, q, n, dim);
    causal_attention(c, state, layer, n, q, attn, capture);
    matmul_bias(lw.wo, lw.bo, attn, n, out);
    if (capture && capture->block_outputs) record_block_output(c, &capture->attention_output, layer, out, n);
    add_in_place(x, out, n * dim);
    if (capture && capture->gradient_inputs) record_rows(capture->residual_mid, layer, x, n, dim);

    // MLP: layernorm, up, GELU, down.
    const float* ln2 = f32_data(lw.ffn_norm, norm_scratch);
    const float* ln2_bias = f32_data(lw.ffn_norm_bias, bias_scratch);
    for (int t = 0; t < n; ++t)
      layernorm(normed + size_t(t) * dim, x + size_t(t) * dim, ln2, ln2_bias, dim, c.norm_eps);
    matmul_bias(lw.w_up, lw.b_up, normed, n, hidden);
    if (capture && capture->gradient_inputs) record_rows(capture->mlp_gate, layer, hidden, n, c.ff_dim);
    gelu(hidden, n * c.ff_dim);
    matmul_bias(lw.w_down, lw.b_down, hidden, n, out);
    if (capture && capture->block_outputs) record_block_output(c, &capture->mlp_output, layer, out, n);
    add_in_place(x, out, n * dim);
    record_residual(c, capture, layer + 1, x, n);
  }

  const int first = all_logits ? 0 : n - 1;
  const float* lnf = f32_data(w.output_norm, norm_scratch);
  const float* lnf_bias = f32_data(w.output_norm_bias, bias_scratch);
  for (int t = first; t < n; ++t)
    layernorm(normed + size_t(t) * dim, x + size_t(t) * dim, lnf, lnf_bias, dim, c.norm_eps);
  unembed(model, state, normed + size_t(first) * dim, n - first);
}

}  // namespace loupe
