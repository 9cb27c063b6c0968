// The Llama family's forward pass (Llama 2/3, TinyLlama, SmolLM, Mistral-style grouped-
// query attention) and Qwen2, which adds biases to q, k and v. Read top to bottom:
//
//   x = embedding(token)
//   for each layer:
//     x += Wo · attention(rope(Wq · rmsnorm(x)), rope(Wk · rmsnorm(x)), Wv · rmsnorm(x))
//     x += Wdown · (silu(Wgate · rmsnorm(x)) * (Wup · rmsnorm(x)))
//   logits = Wout · rmsnorm(x)
//
// All tokens of one call go through each step together, so every weight matrix is read
// once per call, not once per token.
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/forward.h"

namespace loupe {

void llama_forward(const Model& model, InferenceState& state, std::span<const int32_t> tokens,
                   bool all_logits, Capture* capture) {
  const ModelConfig& c = model.config;
  const ModelWeights& w = model.weights;
  const int n = int(tokens.size());
  const int dim = c.dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  std::vector<float> norm_scratch;

  float* x = scratch(state.x, size_t(n) * dim);               // (n, dim) the residual stream
  float* normed = scratch(state.normed, size_t(n) * dim);     // (n, dim)
  float* q = scratch(state.q, size_t(n) * q_dim);             // (n, n_heads * head_dim)
  float* k = scratch(state.k, size_t(n) * kv_dim);            // (n, n_kv_heads * head_dim)
  float* v = scratch(state.v, size_t(n) * kv_dim);            // (n, n_kv_heads * head_dim)
  float* attn = scratch(state.attn_out, size_t(n) * q_dim);   // (n, n_heads * head_dim)
  float* gate = scratch(state.ffn_gate, size_t(n) * c.ff_dim);  // (n, ff_dim)
  float* up = scratch(state.ffn_up, size_t(n) * c.ff_dim);      // (n, ff_dim)
  float* out = scratch(state.block_out, size_t(n) * dim);     // (n, dim) what a block adds

  // RoPE angles of this call's positions, the same for every layer and head.
  const int half = c.rope_dims / 2;
  const bool adjacent = c.rope_style == RopeStyle::Adjacent;
  float* rope_cos = scratch(state.rope_cos, size_t(n) * half);  // (n, rope_dims / 2)
  float* rope_sin = scratch(state.rope_sin, size_t(n) * half);
  rope_angles(state.n_past, n, c.rope_dims, state.rope_theta_scale,
              state.rope_freq_factors.empty() ? nullptr : state.rope_freq_factors.data(), rope_cos, rope_sin);

  for (int t = 0; t < n; ++t) read_row(w.token_embedding, tokens[size_t(t)], x + size_t(t) * dim);
  record_residual(c, capture, 0, x, n);

  for (int layer = 0; layer < c.n_layers; ++layer) {
    const LayerWeights& lw = w.layers[size_t(layer)];

    // Attention: rmsnorm, project to q/k/v, rotate q and k by position, attend.
    const float* attn_norm = f32_data(lw.attn_norm, norm_scratch);
    rmsnorm_rows(normed, x, attn_norm, n, dim, c.norm_eps);
    // q, k and v read the same input: converted once, computed as one parallel job.
    const MatmulTarget qkv[] = {{&lw.wq, q, &lw.bq}, {&lw.wk, k, &lw.bk}, {&lw.wv, v, &lw.bv}};
    matmul_shared_input(qkv, normed, n);
    // Rotate q in place and k on its way into the KV cache, by this call's angles.
    for (int t = 0; t < n; ++t)
      for (int h = 0; h < c.n_heads; ++h) {
        float* head = q + size_t(t) * q_dim + size_t(h) * c.head_dim;
        rope_rotate(head, head, rope_cos + size_t(t) * half, rope_sin + size_t(t) * half, c.rope_dims, c.head_dim,
                    adjacent);
      }
    store_kv(c, state, layer, n, k, v, /*rotate=*/true);
    if (capture && capture->gradient_inputs) record_rows(capture->queries, layer, q, n, q_dim);
    causal_attention(c, state, layer, n, q, attn, capture);
    matmul(lw.wo, attn, n, out);
    if (capture && capture->block_outputs) record_block_output(c, &capture->attention_output, layer, out, n);
    add_in_place(x, out, n * dim);
    if (capture && capture->gradient_inputs) record_rows(capture->residual_mid, layer, x, n, dim);

    // MLP: rmsnorm, SwiGLU (silu(gate) * up), project back down.
    const float* ffn_norm = f32_data(lw.ffn_norm, norm_scratch);
    rmsnorm_rows(normed, x, ffn_norm, n, dim, c.norm_eps);
    const MatmulTarget gate_up[] = {{&lw.w_gate, gate}, {&lw.w_up, up}};
    matmul_shared_input(gate_up, normed, n);
    if (capture && capture->gradient_inputs) {
      record_rows(capture->mlp_gate, layer, gate, n, c.ff_dim);
      record_rows(capture->mlp_up, layer, up, n, c.ff_dim);
    }
    swiglu(gate, up, n * c.ff_dim);
    matmul(lw.w_down, gate, n, out);
    if (capture && capture->block_outputs) record_block_output(c, &capture->mlp_output, layer, out, n);
    add_in_place(x, out, n * dim);
    record_residual(c, capture, layer + 1, x, n);
  }

  // Final norm and unembedding: of the last token only, unless every row is wanted.
  const int first = all_logits ? 0 : n - 1;
  const float* output_norm = f32_data(w.output_norm, norm_scratch);
  for (int t = first; t < n; ++t)
    rmsnorm(normed + size_t(t) * dim, x + size_t(t) * dim, output_norm, dim, c.norm_eps);
  unembed(model, state, normed + size_t(first) * dim, n - first);
}

}  // namespace loupe
