// Pieces every architecture shares: the KV cache, causal attention over it, the
// unembedding, and the recording of captures for the explanation views.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_f32.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "model/forward.h"

namespace loupe {

float* scratch(std::vector<float>& buffer, size_t n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

InferenceState make_state(const Model& model, int context) {
  const ModelConfig& config = model.config;
  if (context <= 0 || context > config.context_length) context = config.context_length;
  InferenceState state;
  state.context = context;
  const size_t kv_dim = size_t(config.n_kv_heads) * config.head_dim;
  state.key_cache.resize(size_t(config.n_layers) * context * kv_dim);  // unset until stored
  state.value_cache.resize(size_t(config.n_layers) * context * kv_dim);

  // RoPE: pair i turns at base^(-2i/d) radians per position. Llama 3 style scaling
  // slows the low-frequency pairs (long wavelengths) by `factor`, leaves the high ones,
  // and blends smoothly in between; GGUF files may carry those factors precomputed.
  const int pairs = config.rope_dims / 2;
  state.rope_theta_scale = std::pow(config.rope_base, -2.0f / float(std::max(1, config.rope_dims)));
  if (!model.weights.rope_freqs.empty()) {
    const float* factors = reinterpret_cast<const float*>(model.weights.rope_freqs.data);
    state.rope_freq_factors.assign(factors, factors + pairs);
  } else if (config.rope_scale_factor > 0) {
    state.rope_freq_factors.resize(size_t(pairs));
    for (int i = 0; i < pairs; ++i) {
      const double freq = std::pow(double(config.rope_base), -2.0 * i / config.rope_dims);
      const double wavelength = 2 * M_PI / freq;
      const double low_wavelength = config.rope_original_context / config.rope_low_freq_factor;
      const double high_wavelength = config.rope_original_context / config.rope_high_freq_factor;
      double factor = 1;
      if (wavelength > low_wavelength) {
        factor = config.rope_scale_factor;
      } else if (wavelength > high_wavelength) {
        const double smooth = (config.rope_original_context / wavelength - config.rope_low_freq_factor) /
                              (config.rope_high_freq_factor - config.rope_low_freq_factor);
        factor = 1 / ((1 - smooth) / config.rope_scale_factor + smooth);
      }
      state.rope_freq_factors[size_t(i)] = float(factor);
    }
  }
  return state;
}

void store_kv(const ModelConfig& config, InferenceState& state, int layer, int n_tokens,
              const float* k, const float* v, bool rotate) {
  const size_t kv_dim = size_t(config.n_kv_heads) * config.head_dim;
  const size_t offset = (size_t(layer) * state.context + state.n_past) * kv_dim;
  float* key_rows = state.key_cache.data() + offset;
  if (rotate) {
    const int half = config.rope_dims / 2;
    const bool adjacent = config.rope_style == RopeStyle::Adjacent;
    for (int t = 0; t < n_tokens; ++t)
      for (int h = 0; h < config.n_kv_heads; ++h) {
        const size_t at = size_t(t) * kv_dim + size_t(h) * config.head_dim;
        rope_rotate(key_rows + at, k + at, state.rope_cos.data() + size_t(t) * half,
                    state.rope_sin.data() + size_t(t) * half, config.rope_dims, config.head_dim, adjacent);
      }
  } else {
    std::memcpy(key_rows, k, sizeof(float) * kv_dim * n_tokens);
  }
  std::memcpy(state.value_cache.data() + offset, v, sizeof(float) * kv_dim * n_tokens);
}

namespace {

// Queries per attention job when reading a prompt: each job takes one head's block of
// queries, so two threads share 9 heads evenly and a block reads only the keys its
// last query sees.
constexpr int kQueryBlock = 32;
// From this many queries on, scores and outputs are matrix products (kernels/gemm_f32.h):
// far faster than dot by dot, even computing the masked corner of each block.
constexpr int kMatrixAttentionTokens = 8;

}  // namespace

void causal_attention(const ModelConfig& config, InferenceState& state, int layer, int n_tokens,
                      const float* q, float* out, Capture* capture) {
  const int head_dim = config.head_dim, n_heads = config.n_heads;
  const int q_dim = n_heads * head_dim, kv_dim = config.n_kv_heads * head_dim;
  const int heads_per_kv = n_heads / config.n_kv_heads;  // grouped-query attention
  const int n_keys = state.n_past + n_tokens;
  const float* keys = state.key_cache.data() + size_t(layer) * state.context * kv_dim;
  const float* values = state.value_cache.data() + size_t(layer) * state.context * kv_dim;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  float* captured = nullptr;
  if (capture && capture->attention_probs)
    captured = capture->attention.data() + size_t(layer) * n_heads * n_tokens * n_keys;

  // Row t of `scores` (keys 0..n_past+t) -> probabilities, kept in the capture if asked.
  auto normalize = [&](float* row, int head, int t) {
    const int visible = state.n_past + t + 1;  // keys at positions <= this query's
    for (int key = 0; key < visible; ++key) row[key] *= scale;
    softmax(row, visible);
    if (captured) {
      float* kept = captured + (size_t(head) * n_tokens + t) * n_keys;
      std::copy(row, row + visible, kept);
      std::fill(kept + visible, kept + n_keys, 0.0f);
    }
  };

  if (n_tokens >= kMatrixAttentionTokens) {
    const GemmF32Kernels& gemm = gemm_f32_kernels();
    const int blocks_per_head = (n_tokens + kQueryBlock - 1) / kQueryBlock;
    thread_pool().parallel_for(int64_t(n_heads) * blocks_per_head, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> scores;
      for (int64_t job = begin; job < end; ++job) {
        const int head = int(job / blocks_per_head), kv_head = head / heads_per_kv;
        const int t0 = int(job % blocks_per_head) * kQueryBlock, t1 = std::min(n_tokens, t0 + kQueryBlock);
        const int rows = t1 - t0, seen = state.n_past + t1;  // keys the block's last query sees
        scores.assign(size_t(rows) * seen, 0.0f);
        // scores (rows x seen) = Q_head (rows x head_dim) . K_head (seen x head_dim)^T
        gemm.a_bt(scores.data(), seen, q + size_t(t0) * q_dim + size_t(head) * head_dim, q_dim,
                  keys + size_t(kv_head) * head_dim, kv_dim, rows, head_dim, seen, false);
        for (int t = t0; t < t1; ++t) {
          float* row = scores.data() + size_t(t - t0) * seen;
          normalize(row, head, t);
          std::fill(row + state.n_past + t + 1, row + seen, 0.0f);  // the future: no weight
        }
        // out_head (rows x head_dim) = probabilities (rows x seen) . V_head (seen x head_dim)
        float* o = out + size_t(t0) * q_dim + size_t(head) * head_dim;
        for (int t = 0; t < rows; ++t) std::fill(o + size_t(t) * q_dim, o + size_t(t) * q_dim + head_dim, 0.0f);
        gemm.a_b_add(o, q_dim, scores.data(), seen, values + size_t(kv_head) * head_dim, kv_dim, rows, seen, head_dim);
      }
    });
    return;
  }

  const VectorKernels& vec = vector_kernels();
  thread_pool().parallel_for(int64_t(n_heads) * n_tokens, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    scores.resize(size_t(n_keys));
    for (int64_t job = begin; job < end; ++job) {
      const int head = int(job / n_tokens), t = int(job % n_tokens);
      const int visible = state.n_past + t + 1;
      const float* query = q + size_t(t) * q_dim + size_t(head) * head_dim;
      const int kv_head = head / heads_per_kv;
      vec.dots(query, keys + size_t(kv_head) * head_dim, size_t(kv_dim), head_dim, visible, scores.data());
      normalize(scores.data(), head, t);
      float* o = out + size_t(t) * q_dim + size_t(head) * head_dim;
      std::fill(o, o + head_dim, 0.0f);
      vec.axpys(o, scores.data(), values + size_t(kv_head) * head_dim, size_t(kv_dim), head_dim, visible);
    }
  });
}

void unembed(const Model& model, InferenceState& state, const float* normed_rows, int n_rows) {
  const size_t vocab = size_t(model.config.vocab_size);
  state.logits.resize(vocab * n_rows);
  matmul(model.weights.output, normed_rows, n_rows, state.logits.data());
}

void record_residual(const ModelConfig& config, Capture* capture, int slot, const float* x, int n_tokens) {
  if (!capture || !capture->residual) return;
  const size_t n = size_t(n_tokens) * config.dim;
  std::copy(x, x + n, capture->residual_stream.data() + size_t(slot) * n);
}

void record_block_output(const ModelConfig& config, std::vector<float>* where, int layer,
                         const float* out, int n_tokens) {
  const size_t n = size_t(n_tokens) * config.dim;
  std::copy(out, out + n, where->data() + size_t(layer) * n);
}

void record_rows(std::vector<float>& where, int layer, const float* rows, int n_tokens, int width) {
  const size_t n = size_t(n_tokens) * width;
  std::copy(rows, rows + n, where.data() + size_t(layer) * n);
}

void forward(const Model& model, InferenceState& state, std::span<const int32_t> tokens,
             bool all_logits, Capture* capture) {
  const ModelConfig& config = model.config;
  const int n_tokens = int(tokens.size());
  if (n_tokens == 0) fail("forward: no tokens to run");
  if (state.n_past + n_tokens > state.context)
    fail("the text is " + std::to_string(state.n_past + n_tokens) + " tokens long, but the context holds " +
         std::to_string(state.context));
  for (int32_t id : tokens)
    if (id < 0 || id >= config.vocab_size)
      fail("token id " + std::to_string(id) + " is outside the vocabulary (" + std::to_string(config.vocab_size) + ")");

  if (capture) {
    const int n_keys = state.n_past + n_tokens;
    capture->n_tokens = n_tokens;
    capture->n_keys = n_keys;
    const size_t per_layer = size_t(n_tokens) * config.dim;
    if (capture->attention_probs)
      capture->attention.assign(size_t(config.n_layers) * config.n_heads * n_tokens * n_keys, 0.0f);
    if (capture->residual) capture->residual_stream.assign((config.n_layers + 1) * per_layer, 0.0f);
    if (capture->block_outputs) {
      capture->attention_output.assign(config.n_layers * per_layer, 0.0f);
      capture->mlp_output.assign(config.n_layers * per_layer, 0.0f);
    }
    if (capture->gradient_inputs) {
      if (state.n_past != 0) fail("forward: the gradient inputs are captured from position 0 only");
      const size_t layers = size_t(config.n_layers) * n_tokens;
      capture->queries.resize(layers * config.n_heads * config.head_dim);
      capture->residual_mid.resize(layers * config.dim);
      capture->mlp_gate.resize(layers * config.ff_dim);
      capture->mlp_up.resize(config.arch == Architecture::Gpt2 ? 0 : layers * config.ff_dim);
    }
  }

  switch (config.arch) {
    case Architecture::Gpt2: gpt2_forward(model, state, tokens, all_logits, capture); break;
    case Architecture::Llama:
    case Architecture::Qwen2: llama_forward(model, state, tokens, all_logits, capture); break;
  }
  state.n_past += n_tokens;
}

}  // namespace loupe
