// The model's forward pass with saved activations, and its backward pass, for both
// families. The forward pass reads like model/llama.cpp and model/gpt2.cpp; the backward
// pass walks the same steps in reverse, each step the `_backward` of its `_forward`
// (gradients/layers.h).
//
//   Llama/Qwen2: x += Wo·attn(rope(Wq·rms(x)+bq), rope(Wk·rms(x)+bk), Wv·rms(x)+bv)
//                x += Wdown·(silu(Wgate·rms(x)) * Wup·rms(x))
//   GPT-2:       x += Wo·attn(split(Wqkv·ln(x)+b)) + bo
//                x += Wdown·gelu(Wup·ln(x)+b) + b
//   logits = U·norm(x)
#include "gradients/gradients.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "gradients/layers.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_f32.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"
#include "kernels/thread_pool.h"
#include "model/forward.h"

namespace loupe::grad {

namespace {

// data() of an array, or null when it is empty (a weight the architecture lacks).
template <class T>
const T* ptr(const std::vector<T>& v) { return v.empty() ? nullptr : v.data(); }
// data() of a gradient array, or null when there are no gradients or no such weight.
template <class T>
T* gptr(Parameters<T>* g, std::vector<T> Parameters<T>::*field) {
  return g && !(g->*field).empty() ? (g->*field).data() : nullptr;
}
template <class T>
T* lgptr(Parameters<T>* g, int layer, std::vector<T> LayerParameters<T>::*field) {
  if (!g) return nullptr;
  std::vector<T>& v = g->layers[size_t(layer)].*field;
  return v.empty() ? nullptr : v.data();
}

template <class T>
std::vector<T> dequantize(const TensorView& tensor) {
  if (tensor.empty()) return {};
  std::vector<T> out(size_t(tensor.elements()));
  // Rows across the thread pool: a 124M-parameter model is ~100 MB of f32 to write.
  thread_pool().parallel_for(tensor.rows(), [&](int64_t begin, int64_t end) {
    std::vector<float> row(size_t(tensor.row_length()));
    for (int64_t r = begin; r < end; ++r) {
      read_row(tensor, r, row.data());
      std::copy(row.begin(), row.end(), out.begin() + r * tensor.row_length());
    }
  }, /*grain=*/64);
  return out;
}

template <class T>
void resize(std::vector<T>& v, size_t n) { v.assign(n, T(0)); }

bool is_gpt2(const ModelConfig& c) { return c.arch == Architecture::Gpt2; }

// --- the pass's non-matrix steps on the thread pool ------------------------------------------
// Each output element is computed by exactly one job with layers.h's function, so results do
// not depend on the thread count. (The matrix products parallelize inside matmul_forward.)

// fn(begin, end) over [0, count) in chunks of at least `grain`.
template <class F>
void parallel_range(int64_t count, int64_t grain, F&& fn) {
  thread_pool().parallel_for(count, [&](int64_t begin, int64_t end) { fn(begin, end); }, grain);
}

// Causal attention in f32, one query head per job, as matrix products (kernels/gemm_f32.h's
// block products on the head's columns in place) — layers.h's attention_forward and
// attention_backward with the same sums grouped into products:
//   forward:   S = Q·Kᵀ·scale,  P = softmax of each row over keys ≤ query,  O = P·V
//   backward:  dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ∘ (dP − rowsum(P ∘ dP)) · scale,
//              dQ = dS·K,  dK = dSᵀ·Q
// `probs` is (n_heads, rows, ld) with ld ≥ rows (a trace's probabilities for its n tokens
// serve any first `rows` of them). The backward adds; the heads of a kv group go into their
// own dK and dV, added in head order, so results do not depend on the thread count.
void attention_forward_products(float* out, float* probs, const float* q, const float* k, const float* v, int n,
                                int n_heads, int n_kv_heads, int hd) {
  const GemmF32Kernels& gemm = gemm_f32_kernels();
  const VectorKernels& vec = vector_kernels();
  const int q_dim = n_heads * hd, kv_dim = n_kv_heads * hd, group = n_heads / n_kv_heads;
  const float scale = 1.0f / std::sqrt(float(hd));
  parallel_range(n_heads, 1, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      const float* qh = q + h * hd;
      const float* kh = k + (h / group) * hd;
      const float* vh = v + (h / group) * hd;
      float* p = probs + size_t(h) * n * n;  // (n, n)
      gemm.a_bt(p, n, qh, q_dim, kh, kv_dim, n, hd, n, false);
      for (int t = 0; t < n; ++t) {
        float* row = p + size_t(t) * n;
        float max_score = -INFINITY;
        for (int s = 0; s <= t; ++s) max_score = std::max(max_score, row[s] *= scale);
        const float inv_sum = 1.0f / vec.exp_shifted(row, t + 1, max_score);
        for (int s = 0; s <= t; ++s) row[s] *= inv_sum;
        std::fill(row + t + 1, row + n, 0.0f);
      }
      float* oh = out + h * hd;  // (n, hd), q_dim apart
      for (int t = 0; t < n; ++t) std::fill_n(oh + size_t(t) * q_dim, hd, 0.0f);
      gemm.a_b_add(oh, q_dim, p, n, vh, kv_dim, n, n, hd);
    }
  });
}

void attention_backward_products(float* dq, float* dk, float* dv, const float* dout, const float* probs, int ld,
                                 const float* q, const float* k, const float* v, int rows, int n_heads, int n_kv_heads,
                                 int hd) {
  const GemmF32Kernels& gemm = gemm_f32_kernels();
  const int q_dim = n_heads * hd, kv_dim = n_kv_heads * hd, group = n_heads / n_kv_heads;
  const float scale = 1.0f / std::sqrt(float(hd));
  const size_t head_size = size_t(rows) * hd;
  std::vector<float> dk_heads(size_t(n_heads) * head_size, 0.0f), dv_heads(size_t(n_heads) * head_size, 0.0f);
  parallel_range(n_heads, 1, [&](int64_t h0, int64_t h1) {
    std::vector<float> ds(size_t(rows) * rows);  // dP, then dS in place (rows, rows)
    for (int64_t h = h0; h < h1; ++h) {
      const float* p = probs + size_t(h) * ld * ld;  // (rows, rows), ld apart
      const float* doh = dout + h * hd;              // (rows, hd), q_dim apart
      const float* qh = q + h * hd;
      const float* kh = k + (h / group) * hd;
      const float* vh = v + (h / group) * hd;
      gemm.at_b_add(dv_heads.data() + size_t(h) * head_size, hd, p, ld, doh, q_dim, rows, rows, hd);
      gemm.a_bt(ds.data(), rows, doh, q_dim, vh, kv_dim, rows, hd, rows, false);
      for (int t = 0; t < rows; ++t) {
        const float* pt = p + size_t(t) * ld;
        float* dst = ds.data() + size_t(t) * rows;
        float weighted = 0;
        for (int s = 0; s <= t; ++s) weighted += pt[s] * dst[s];
        for (int s = 0; s <= t; ++s) dst[s] = pt[s] * (dst[s] - weighted) * scale;
        std::fill(dst + t + 1, dst + rows, 0.0f);
      }
      gemm.a_b_add(dq + h * hd, q_dim, ds.data(), rows, kh, kv_dim, rows, rows, hd);
      gemm.at_b_add(dk_heads.data() + size_t(h) * head_size, hd, ds.data(), rows, qh, q_dim, rows, rows, hd);
    }
  });
  for (int h = 0; h < n_heads; ++h) {
    const int kvh = h / group;
    for (int t = 0; t < rows; ++t)
      for (int i = 0; i < hd; ++i) {
        dk[size_t(t) * kv_dim + size_t(kvh) * hd + i] += dk_heads[size_t(h) * head_size + size_t(t) * hd + i];
        dv[size_t(t) * kv_dim + size_t(kvh) * hd + i] += dv_heads[size_t(h) * head_size + size_t(t) * hd + i];
      }
  }
}

// Causal attention one query head per job: the head's q, k and v columns are packed into
// (n, head_dim) rows and layers.h's attention_forward runs on that single head (f64, for
// the finite-difference tests; f32 runs as products, above).
template <class T>
void attention_forward_heads(T* out, T* probs, const T* q, const T* k, const T* v, int n, int n_heads, int n_kv_heads,
                             int hd) {
  if constexpr (std::is_same_v<T, float>)
    return attention_forward_products(out, probs, q, k, v, n, n_heads, n_kv_heads, hd);
  const int q_dim = n_heads * hd, kv_dim = n_kv_heads * hd, group = n_heads / n_kv_heads;
  parallel_range(n_heads, 1, [&](int64_t h0, int64_t h1) {
    std::vector<T> qh(size_t(n) * hd), kh(size_t(n) * hd), vh(size_t(n) * hd), oh(size_t(n) * hd);
    for (int64_t h = h0; h < h1; ++h) {
      const int kvh = int(h) / group;
      for (int t = 0; t < n; ++t) {
        std::copy_n(q + size_t(t) * q_dim + size_t(h) * hd, hd, qh.begin() + size_t(t) * hd);
        std::copy_n(k + size_t(t) * kv_dim + size_t(kvh) * hd, hd, kh.begin() + size_t(t) * hd);
        std::copy_n(v + size_t(t) * kv_dim + size_t(kvh) * hd, hd, vh.begin() + size_t(t) * hd);
      }
      attention_forward(oh.data(), probs + size_t(h) * n * n, qh.data(), kh.data(), vh.data(), n, 1, 1, hd);
      for (int t = 0; t < n; ++t) std::copy_n(oh.begin() + size_t(t) * hd, hd, out + size_t(t) * q_dim + size_t(h) * hd);
    }
  });
}

// Its backward, one query head per job into the head's own dk and dv; the heads of a kv
// group are then added in head order (the same sums for any thread count).
template <class T>
void attention_backward_heads(T* dq, T* dk, T* dv, const T* dout, const T* probs, const T* q, const T* k, const T* v,
                              int n, int n_heads, int n_kv_heads, int hd) {
  if constexpr (std::is_same_v<T, float>)
    return attention_backward_products(dq, dk, dv, dout, probs, n, q, k, v, n, n_heads, n_kv_heads, hd);
  const int q_dim = n_heads * hd, kv_dim = n_kv_heads * hd, group = n_heads / n_kv_heads;
  const size_t head_size = size_t(n) * hd;
  std::vector<T> dk_heads(size_t(n_heads) * head_size, T(0)), dv_heads(size_t(n_heads) * head_size, T(0));
  parallel_range(n_heads, 1, [&](int64_t h0, int64_t h1) {
    std::vector<T> qh(head_size), kh(head_size), vh(head_size), doh(head_size), dqh(head_size);
    for (int64_t h = h0; h < h1; ++h) {
      const int kvh = int(h) / group;
      for (int t = 0; t < n; ++t) {
        std::copy_n(q + size_t(t) * q_dim + size_t(h) * hd, hd, qh.begin() + size_t(t) * hd);
        std::copy_n(k + size_t(t) * kv_dim + size_t(kvh) * hd, hd, kh.begin() + size_t(t) * hd);
        std::copy_n(v + size_t(t) * kv_dim + size_t(kvh) * hd, hd, vh.begin() + size_t(t) * hd);
        std::copy_n(dout + size_t(t) * q_dim + size_t(h) * hd, hd, doh.begin() + size_t(t) * hd);
      }
      std::fill(dqh.begin(), dqh.end(), T(0));
      attention_backward(dqh.data(), dk_heads.data() + size_t(h) * head_size, dv_heads.data() + size_t(h) * head_size,
                         doh.data(), probs + size_t(h) * n * n, qh.data(), kh.data(), vh.data(), n, 1, 1, hd);
      for (int t = 0; t < n; ++t)
        for (int i = 0; i < hd; ++i) dq[size_t(t) * q_dim + size_t(h) * hd + i] += dqh[size_t(t) * hd + i];
    }
  });
  for (int h = 0; h < n_heads; ++h) {
    const int kvh = h / group;
    for (int t = 0; t < n; ++t)
      for (int i = 0; i < hd; ++i) {
        dk[size_t(t) * kv_dim + size_t(kvh) * hd + i] += dk_heads[size_t(h) * head_size + size_t(t) * hd + i];
        dv[size_t(t) * kv_dim + size_t(kvh) * hd + i] += dv_heads[size_t(h) * head_size + size_t(t) * hd + i];
      }
  }
}

// Row-wise norms on row ranges (forward always; backward only without weight gradients,
// which every row would add into).
template <class T>
void rmsnorm_forward_rows(T* out, T* rstd, const T* x, const T* w, int n, int dim, T eps) {
  parallel_range(n, 8, [&](int64_t r0, int64_t r1) {
    rmsnorm_forward(out + size_t(r0) * dim, rstd + r0, x + size_t(r0) * dim, w, int(r1 - r0), dim, eps);
  });
}
template <class T>
void layernorm_forward_rows(T* out, T* mean, T* rstd, const T* x, const T* w, const T* b, int n, int dim, T eps) {
  parallel_range(n, 8, [&](int64_t r0, int64_t r1) {
    layernorm_forward(out + size_t(r0) * dim, mean + r0, rstd + r0, x + size_t(r0) * dim, w, b, int(r1 - r0), dim, eps);
  });
}
template <class T>
void rmsnorm_backward_rows(T* dx, T* dw, const T* dout, const T* x, const T* w, const T* rstd, int n, int dim) {
  if (dw) return rmsnorm_backward(dx, dw, dout, x, w, rstd, n, dim);
  parallel_range(n, 8, [&](int64_t r0, int64_t r1) {
    rmsnorm_backward(dx + size_t(r0) * dim, static_cast<T*>(nullptr), dout + size_t(r0) * dim, x + size_t(r0) * dim, w,
                     rstd + r0, int(r1 - r0), dim);
  });
}
template <class T>
void layernorm_backward_rows(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w, const T* mean, const T* rstd,
                             int n, int dim) {
  if (dw || db) return layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, n, dim);
  parallel_range(n, 8, [&](int64_t r0, int64_t r1) {
    layernorm_backward(dx + size_t(r0) * dim, static_cast<T*>(nullptr), static_cast<T*>(nullptr), dout + size_t(r0) * dim,
                       x + size_t(r0) * dim, w, mean + r0, rstd + r0, int(r1 - r0), dim);
  });
}

// Element-wise activations on ranges.
template <class T>
void swiglu_forward_par(T* h, const T* g, const T* u, int count) {
  parallel_range(count, 4096, [&](int64_t b, int64_t e) { swiglu_forward(h + b, g + b, u + b, int(e - b)); });
}
template <class T>
void swiglu_backward_par(T* dg, T* du, const T* dh, const T* g, const T* u, int count) {
  parallel_range(count, 4096, [&](int64_t b, int64_t e) { swiglu_backward(dg + b, du + b, dh + b, g + b, u + b, int(e - b)); });
}
template <class T>
void gelu_forward_par(T* h, const T* x, int count) {
  parallel_range(count, 4096, [&](int64_t b, int64_t e) { gelu_forward(h + b, x + b, int(e - b)); });
}
template <class T>
void gelu_backward_par(T* dx, const T* dh, const T* x, int count) {
  parallel_range(count, 4096, [&](int64_t b, int64_t e) { gelu_backward(dx + b, dh + b, x + b, int(e - b)); });
}

}  // namespace

// ============================================================================================
// Parameters

template <class T>
std::vector<const std::vector<T>*> Parameters<T>::arrays() const {
  std::vector<const std::vector<T>*> all = {&token_embedding, &position_embedding};
  for (const LayerParameters<T>& l : layers)
    for (const std::vector<T>* v : {&l.attn_norm, &l.attn_norm_bias, &l.wq, &l.bq, &l.wk, &l.bk, &l.wv, &l.bv,
                                    &l.wqkv, &l.bqkv, &l.wo, &l.bo, &l.ffn_norm, &l.ffn_norm_bias, &l.w_gate,
                                    &l.w_up, &l.b_up, &l.w_down, &l.b_down})
      all.push_back(v);
  all.push_back(&output_norm);
  all.push_back(&output_norm_bias);
  all.push_back(&output);
  std::erase_if(all, [](const std::vector<T>* v) { return v->empty(); });
  return all;
}

template <class T>
std::vector<std::vector<T>*> Parameters<T>::arrays() {
  std::vector<std::vector<T>*> all;
  for (const std::vector<T>* v : std::as_const(*this).arrays()) all.push_back(const_cast<std::vector<T>*>(v));
  return all;
}

template <class T>
size_t Parameters<T>::count() const {
  size_t n = 0;
  for (const std::vector<T>* v : arrays()) n += v->size();
  return n;
}

template <class T>
Parameters<T> parameters_from_model(const Model& model) {
  const ModelWeights& w = model.weights;
  Parameters<T> p;
  p.config = model.config;
  p.token_embedding = dequantize<T>(w.token_embedding);
  p.position_embedding = dequantize<T>(w.position_embedding);
  p.output_norm = dequantize<T>(w.output_norm);
  p.output_norm_bias = dequantize<T>(w.output_norm_bias);
  if (!model.config.tied_output) p.output = dequantize<T>(w.output);
  for (const LayerWeights& lw : w.layers) {
    LayerParameters<T> l;
    l.attn_norm = dequantize<T>(lw.attn_norm);
    l.attn_norm_bias = dequantize<T>(lw.attn_norm_bias);
    l.wq = dequantize<T>(lw.wq);
    l.bq = dequantize<T>(lw.bq);
    l.wk = dequantize<T>(lw.wk);
    l.bk = dequantize<T>(lw.bk);
    l.wv = dequantize<T>(lw.wv);
    l.bv = dequantize<T>(lw.bv);
    l.wqkv = dequantize<T>(lw.wqkv);
    l.bqkv = dequantize<T>(lw.bqkv);
    l.wo = dequantize<T>(lw.wo);
    l.bo = dequantize<T>(lw.bo);
    l.ffn_norm = dequantize<T>(lw.ffn_norm);
    l.ffn_norm_bias = dequantize<T>(lw.ffn_norm_bias);
    l.w_gate = dequantize<T>(lw.w_gate);
    l.w_up = dequantize<T>(lw.w_up);
    l.b_up = dequantize<T>(lw.b_up);
    l.w_down = dequantize<T>(lw.w_down);
    l.b_down = dequantize<T>(lw.b_down);
    p.layers.push_back(std::move(l));
  }
  if (!is_gpt2(model.config)) {
    // The same RoPE factors inference uses (a one-position state computes them).
    p.rope_freq_factors = make_state(model, 1).rope_freq_factors;
  }
  return p;
}

template <class T>
Parameters<T> zeros_like(const Parameters<T>& p) {
  Parameters<T> z = p;
  for (std::vector<T>* v : z.arrays()) std::fill(v->begin(), v->end(), T(0));
  return z;
}

template <class T>
Parameters<T> convert(const Parameters<float>& p) {
  Parameters<T> out;
  out.config = p.config;
  out.rope_freq_factors = p.rope_freq_factors;
  out.layers.resize(p.layers.size());
  auto copy = [](const std::vector<float>& from) { return std::vector<T>(from.begin(), from.end()); };
  out.token_embedding = copy(p.token_embedding);
  out.position_embedding = copy(p.position_embedding);
  out.output_norm = copy(p.output_norm);
  out.output_norm_bias = copy(p.output_norm_bias);
  out.output = copy(p.output);
  for (size_t i = 0; i < p.layers.size(); ++i) {
    const LayerParameters<float>& a = p.layers[i];
    LayerParameters<T>& b = out.layers[i];
    b.attn_norm = copy(a.attn_norm); b.attn_norm_bias = copy(a.attn_norm_bias);
    b.wq = copy(a.wq); b.bq = copy(a.bq); b.wk = copy(a.wk); b.bk = copy(a.bk); b.wv = copy(a.wv); b.bv = copy(a.bv);
    b.wqkv = copy(a.wqkv); b.bqkv = copy(a.bqkv); b.wo = copy(a.wo); b.bo = copy(a.bo);
    b.ffn_norm = copy(a.ffn_norm); b.ffn_norm_bias = copy(a.ffn_norm_bias);
    b.w_gate = copy(a.w_gate); b.w_up = copy(a.w_up); b.b_up = copy(a.b_up);
    b.w_down = copy(a.w_down); b.b_down = copy(a.b_down);
  }
  return out;
}

template <class T>
std::vector<T> embed_tokens(const Parameters<T>& p, std::span<const int32_t> tokens) {
  const int dim = p.config.dim;
  std::vector<T> rows(tokens.size() * size_t(dim));
  for (size_t t = 0; t < tokens.size(); ++t) {
    const int32_t id = tokens[t];
    if (id < 0 || id >= p.config.vocab_size) fail("token id " + std::to_string(id) + " is outside the vocabulary");
    std::copy_n(p.token_embedding.begin() + size_t(id) * dim, dim, rows.begin() + t * dim);
  }
  return rows;
}

// ============================================================================================
// Forward, keeping what the backward pass needs

template <class T>
void model_forward(const Parameters<T>& p, const T* token_rows, int n, std::span<const int> logit_rows,
                   Activations<T>& a) {
  const ModelConfig& c = p.config;
  const int dim = c.dim, hd = c.head_dim, ff = c.ff_dim;
  const int q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd;
  const T eps = T(c.norm_eps);
  const bool gpt2 = is_gpt2(c);
  if (n <= 0) fail("the gradient pass needs at least one token");
  if (n > c.context_length) fail("the text is " + std::to_string(n) + " tokens long, but the context holds " +
                                 std::to_string(c.context_length));
  const float theta_scale = std::pow(c.rope_base, -2.0f / float(std::max(1, c.rope_dims)));
  const float* factors = p.rope_freq_factors.empty() ? nullptr : p.rope_freq_factors.data();
  const bool adjacent = c.rope_style == RopeStyle::Adjacent;

  a.n = n;
  a.x0.assign(token_rows, token_rows + size_t(n) * dim);
  if (gpt2)  // learned absolute positions
    for (size_t i = 0; i < size_t(n) * dim; ++i) a.x0[i] += p.position_embedding[i];
  a.layers.resize(size_t(c.n_layers));
  std::vector<T> tmp(size_t(n) * std::max(3 * dim, std::max(q_dim, dim)));  // (n, up to 3*dim)

  const std::vector<T>* x = &a.x0;
  for (int layer = 0; layer < c.n_layers; ++layer) {
    const LayerParameters<T>& lp = p.layers[size_t(layer)];
    LayerActivations<T>& la = a.layers[size_t(layer)];
    la.x = *x;
    resize(la.ln1, size_t(n) * dim);
    resize(la.ln1_rstd, size_t(n));
    resize(la.q, size_t(n) * q_dim);
    resize(la.k, size_t(n) * kv_dim);
    resize(la.v, size_t(n) * kv_dim);
    resize(la.probs, size_t(c.n_heads) * n * n);
    resize(la.att, size_t(n) * q_dim);
    resize(la.x_mid, size_t(n) * dim);
    resize(la.ln2, size_t(n) * dim);
    resize(la.ln2_rstd, size_t(n));
    resize(la.gate, size_t(n) * ff);
    resize(la.hidden, size_t(n) * ff);

    // Attention
    if (gpt2) {
      resize(la.ln1_mean, size_t(n));
      layernorm_forward_rows(la.ln1.data(), la.ln1_mean.data(), la.ln1_rstd.data(), la.x.data(), lp.attn_norm.data(),
                        ptr(lp.attn_norm_bias), n, dim, eps);
      matmul_forward(tmp.data(), la.ln1.data(), lp.wqkv.data(), ptr(lp.bqkv), n, dim, 3 * dim);
      for (int t = 0; t < n; ++t) {
        const T* row = tmp.data() + size_t(t) * 3 * dim;
        std::copy(row, row + dim, la.q.begin() + size_t(t) * dim);
        std::copy(row + dim, row + 2 * dim, la.k.begin() + size_t(t) * dim);
        std::copy(row + 2 * dim, row + 3 * dim, la.v.begin() + size_t(t) * dim);
      }
    } else {
      rmsnorm_forward_rows(la.ln1.data(), la.ln1_rstd.data(), la.x.data(), lp.attn_norm.data(), n, dim, eps);
      matmul_forward(la.q.data(), la.ln1.data(), lp.wq.data(), ptr(lp.bq), n, dim, q_dim);
      matmul_forward(la.k.data(), la.ln1.data(), lp.wk.data(), ptr(lp.bk), n, dim, kv_dim);
      matmul_forward(la.v.data(), la.ln1.data(), lp.wv.data(), ptr(lp.bv), n, dim, kv_dim);
      rope_forward(la.q.data(), n, c.n_heads, hd, c.rope_dims, theta_scale, factors, adjacent);
      rope_forward(la.k.data(), n, c.n_kv_heads, hd, c.rope_dims, theta_scale, factors, adjacent);
    }
    attention_forward_heads(la.att.data(), la.probs.data(), la.q.data(), la.k.data(), la.v.data(), n, c.n_heads,
                      c.n_kv_heads, hd);
    matmul_forward(tmp.data(), la.att.data(), lp.wo.data(), ptr(lp.bo), n, q_dim, dim);
    for (size_t i = 0; i < size_t(n) * dim; ++i) la.x_mid[i] = la.x[i] + tmp[i];

    // MLP
    std::vector<T>& next = layer + 1 < c.n_layers ? a.layers[size_t(layer) + 1].x : a.x_final;
    next.resize(size_t(n) * dim);
    if (gpt2) {
      resize(la.ln2_mean, size_t(n));
      layernorm_forward_rows(la.ln2.data(), la.ln2_mean.data(), la.ln2_rstd.data(), la.x_mid.data(), lp.ffn_norm.data(),
                        ptr(lp.ffn_norm_bias), n, dim, eps);
      matmul_forward(la.gate.data(), la.ln2.data(), lp.w_up.data(), ptr(lp.b_up), n, dim, ff);
      gelu_forward_par(la.hidden.data(), la.gate.data(), n * ff);
    } else {
      resize(la.up, size_t(n) * ff);
      rmsnorm_forward_rows(la.ln2.data(), la.ln2_rstd.data(), la.x_mid.data(), lp.ffn_norm.data(), n, dim, eps);
      matmul_forward(la.gate.data(), la.ln2.data(), lp.w_gate.data(), static_cast<const T*>(nullptr), n, dim, ff);
      matmul_forward(la.up.data(), la.ln2.data(), lp.w_up.data(), static_cast<const T*>(nullptr), n, dim, ff);
      swiglu_forward_par(la.hidden.data(), la.gate.data(), la.up.data(), n * ff);
    }
    matmul_forward(tmp.data(), la.hidden.data(), lp.w_down.data(), ptr(lp.b_down), n, ff, dim);
    for (size_t i = 0; i < size_t(n) * dim; ++i) next[i] = la.x_mid[i] + tmp[i];
    x = &next;
  }
  if (c.n_layers == 0) a.x_final = a.x0;

  // Final norm, then the logits of the rows asked for.
  resize(a.lnf, size_t(n) * dim);
  resize(a.lnf_rstd, size_t(n));
  if (gpt2) {
    resize(a.lnf_mean, size_t(n));
    layernorm_forward_rows(a.lnf.data(), a.lnf_mean.data(), a.lnf_rstd.data(), a.x_final.data(), p.output_norm.data(),
                      ptr(p.output_norm_bias), n, dim, eps);
  } else {
    rmsnorm_forward_rows(a.lnf.data(), a.lnf_rstd.data(), a.x_final.data(), p.output_norm.data(), n, dim, eps);
  }
  a.logit_rows.assign(logit_rows.begin(), logit_rows.end());
  const int rows = int(a.logit_rows.size());
  RowMatrix<T> selected(rows, dim);
  for (int r = 0; r < rows; ++r) {
    const int t = a.logit_rows[size_t(r)];
    if (t < 0 || t >= n) fail("logit row " + std::to_string(t) + " is outside the text");
    selected.row(r) = ConstRowVectorMap<T>(a.lnf.data() + size_t(t) * dim, dim);
  }
  a.logits.resize(size_t(rows) * c.vocab_size);
  matmul_forward(a.logits.data(), selected.data(), p.unembedding().data(), static_cast<const T*>(nullptr), rows, dim,
                 c.vocab_size);
}

// ============================================================================================
// Backward, the same steps in reverse

template <class T>
void model_backward(const Parameters<T>& p, Activations<T>& a, const T* dlogits, T* d_token_rows,
                    Parameters<T>* g, std::span<const int32_t> tokens) {
  const ModelConfig& c = p.config;
  const int n = a.n, dim = c.dim, hd = c.head_dim, ff = c.ff_dim;
  const int q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd;
  const bool gpt2 = is_gpt2(c);
  const float theta_scale = std::pow(c.rope_base, -2.0f / float(std::max(1, c.rope_dims)));
  const float* factors = p.rope_freq_factors.empty() ? nullptr : p.rope_freq_factors.data();
  const bool adjacent = c.rope_style == RopeStyle::Adjacent;

  // logits = U · lnf[rows]:  dlnf[rows] = dlogits · U,  dU += dlogitsᵀ · lnf[rows]
  const int rows = int(a.logit_rows.size());
  std::vector<T> dx(size_t(n) * dim, T(0)), dln(size_t(n) * dim, T(0));
  {
    RowMatrix<T> selected(rows, dim), dselected = RowMatrix<T>::Zero(rows, dim);
    for (int r = 0; r < rows; ++r)
      selected.row(r) = ConstRowVectorMap<T>(a.lnf.data() + size_t(a.logit_rows[size_t(r)]) * dim, dim);
    T* du = g ? (g->output.empty() ? g->token_embedding : g->output).data() : nullptr;
    matmul_backward(dselected.data(), du, static_cast<T*>(nullptr), dlogits, selected.data(), p.unembedding().data(), rows,
                    dim, c.vocab_size);
    for (int r = 0; r < rows; ++r)
      RowVectorMap<T>(dln.data() + size_t(a.logit_rows[size_t(r)]) * dim, dim) += dselected.row(r);
  }
  if (gpt2)
    layernorm_backward_rows(dx.data(), gptr(g, &Parameters<T>::output_norm), gptr(g, &Parameters<T>::output_norm_bias),
                       dln.data(), a.x_final.data(), p.output_norm.data(), a.lnf_mean.data(), a.lnf_rstd.data(), n, dim);
  else
    rmsnorm_backward_rows(dx.data(), gptr(g, &Parameters<T>::output_norm), dln.data(), a.x_final.data(),
                     p.output_norm.data(), a.lnf_rstd.data(), n, dim);

  std::vector<T> dhidden(size_t(n) * ff), dgate(size_t(n) * ff), dup(size_t(n) * ff);
  std::vector<T> datt(size_t(n) * q_dim), dq(size_t(n) * q_dim), dk(size_t(n) * kv_dim), dv(size_t(n) * kv_dim);
  std::vector<T> dqkv(gpt2 ? size_t(n) * 3 * dim : 0);
  using LP = LayerParameters<T>;
  for (int layer = c.n_layers - 1; layer >= 0; --layer) {
    const LP& lp = p.layers[size_t(layer)];
    const LayerActivations<T>& la = a.layers[size_t(layer)];
    auto lg = [&](std::vector<T> LP::*field) { return lgptr(g, layer, field); };

    // MLP: next = x_mid + Wdown·hidden (+b).  dx now holds d(next); it flows on to x_mid.
    std::fill(dhidden.begin(), dhidden.end(), T(0));
    matmul_backward(dhidden.data(), lg(&LP::w_down), lg(&LP::b_down), dx.data(), la.hidden.data(), lp.w_down.data(), n,
                    ff, dim);
    std::fill(dgate.begin(), dgate.end(), T(0));
    std::fill(dln.begin(), dln.end(), T(0));
    if (gpt2) {
      gelu_backward_par(dgate.data(), dhidden.data(), la.gate.data(), n * ff);
      matmul_backward(dln.data(), lg(&LP::w_up), lg(&LP::b_up), dgate.data(), la.ln2.data(), lp.w_up.data(), n, dim, ff);
      layernorm_backward_rows(dx.data(), lg(&LP::ffn_norm), lg(&LP::ffn_norm_bias), dln.data(), la.x_mid.data(),
                         lp.ffn_norm.data(), la.ln2_mean.data(), la.ln2_rstd.data(), n, dim);
    } else {
      std::fill(dup.begin(), dup.end(), T(0));
      swiglu_backward_par(dgate.data(), dup.data(), dhidden.data(), la.gate.data(), la.up.data(), n * ff);
      matmul_backward(dln.data(), lg(&LP::w_gate), static_cast<T*>(nullptr), dgate.data(), la.ln2.data(),
                      lp.w_gate.data(), n, dim, ff);
      matmul_backward(dln.data(), lg(&LP::w_up), static_cast<T*>(nullptr), dup.data(), la.ln2.data(), lp.w_up.data(),
                      n, dim, ff);
      rmsnorm_backward_rows(dx.data(), lg(&LP::ffn_norm), dln.data(), la.x_mid.data(), lp.ffn_norm.data(),
                       la.ln2_rstd.data(), n, dim);
    }

    // Attention: x_mid = x + Wo·att (+bo).  dx now holds d(x_mid); it flows on to x.
    std::fill(datt.begin(), datt.end(), T(0));
    matmul_backward(datt.data(), lg(&LP::wo), lg(&LP::bo), dx.data(), la.att.data(), lp.wo.data(), n, q_dim, dim);
    std::fill(dq.begin(), dq.end(), T(0));
    std::fill(dk.begin(), dk.end(), T(0));
    std::fill(dv.begin(), dv.end(), T(0));
    attention_backward_heads(dq.data(), dk.data(), dv.data(), datt.data(), la.probs.data(), la.q.data(), la.k.data(),
                       la.v.data(), n, c.n_heads, c.n_kv_heads, hd);
    std::fill(dln.begin(), dln.end(), T(0));
    if (gpt2) {
      for (int t = 0; t < n; ++t) {
        T* row = dqkv.data() + size_t(t) * 3 * dim;
        std::copy_n(dq.begin() + size_t(t) * dim, dim, row);
        std::copy_n(dk.begin() + size_t(t) * dim, dim, row + dim);
        std::copy_n(dv.begin() + size_t(t) * dim, dim, row + 2 * dim);
      }
      matmul_backward(dln.data(), lg(&LP::wqkv), lg(&LP::bqkv), dqkv.data(), la.ln1.data(), lp.wqkv.data(), n, dim,
                      3 * dim);
      layernorm_backward_rows(dx.data(), lg(&LP::attn_norm), lg(&LP::attn_norm_bias), dln.data(), la.x.data(),
                         lp.attn_norm.data(), la.ln1_mean.data(), la.ln1_rstd.data(), n, dim);
    } else {
      rope_backward(dq.data(), n, c.n_heads, hd, c.rope_dims, theta_scale, factors, adjacent);
      rope_backward(dk.data(), n, c.n_kv_heads, hd, c.rope_dims, theta_scale, factors, adjacent);
      matmul_backward(dln.data(), lg(&LP::wq), lg(&LP::bq), dq.data(), la.ln1.data(), lp.wq.data(), n, dim, q_dim);
      matmul_backward(dln.data(), lg(&LP::wk), lg(&LP::bk), dk.data(), la.ln1.data(), lp.wk.data(), n, dim, kv_dim);
      matmul_backward(dln.data(), lg(&LP::wv), lg(&LP::bv), dv.data(), la.ln1.data(), lp.wv.data(), n, dim, kv_dim);
      rmsnorm_backward_rows(dx.data(), lg(&LP::attn_norm), dln.data(), la.x.data(), lp.attn_norm.data(),
                       la.ln1_rstd.data(), n, dim);
    }
  }

  // x0 = token rows (+ position rows)
  if (d_token_rows) std::copy(dx.begin(), dx.end(), d_token_rows);
  if (g) {
    if (!g->position_embedding.empty())
      for (size_t i = 0; i < size_t(n) * dim; ++i) g->position_embedding[i] += dx[i];
    for (size_t t = 0; t < tokens.size() && int(t) < n; ++t)
      for (int i = 0; i < dim; ++i) g->token_embedding[size_t(tokens[t]) * dim + i] += dx[t * dim + i];
  }
}

// ============================================================================================
// The input gradient from an inference pass's activations: model_backward's steps without
// the weight gradients, reading SavedPass instead of Activations, its products through
// BackwardWeights. The norms' statistics (1/rms, mean) are recomputed from the saved
// residual rows: a few numbers per row.

namespace {

// Wᵀ of the matrices `parts` stacked by rows ([W1; W2; ...], each (out_i, in)): (in, Σ out_i)
// as `type` (Q8_0, or F32 when the rows are not whole blocks), packed when the CPU has
// packed kernels for it. Its bytes go into `storage`.
TensorView stacked_transpose(const std::string& name, std::initializer_list<const TensorView*> parts, TensorType type,
                             std::vector<std::vector<uint8_t>>& storage) {
  const int64_t in = (*parts.begin())->row_length();
  int64_t out = 0;
  for (const TensorView* w : parts) {
    if (w->row_length() != in) fail("backward_weights: stacked matrices differ in width");
    out += w->rows();
  }
  const TensorTypeInfo& info = type_info(type);
  if (out % info.block_size != 0 || !info.from_float) type = TensorType::F32;
  std::vector<float> wt(size_t(in) * out);  // (in, out)
  int64_t first = 0;
  constexpr int64_t kBlock = 64;  // rows read, then written out as 64 contiguous values per column
  for (const TensorView* w : parts) {
    const int64_t blocks = (w->rows() + kBlock - 1) / kBlock;
    thread_pool().parallel_for(blocks, [&](int64_t begin, int64_t end) {
      std::vector<float> rows(size_t(kBlock) * in);
      for (int64_t b = begin; b < end; ++b) {
        const int64_t r0 = b * kBlock, count = std::min(kBlock, w->rows() - r0);
        for (int64_t r = 0; r < count; ++r) read_row(*w, r0 + r, rows.data() + size_t(r) * in);
        for (int64_t i = 0; i < in; ++i)
          for (int64_t r = 0; r < count; ++r) wt[size_t(i) * out + first + r0 + r] = rows[size_t(r) * in + i];
      }
    });
    first += w->rows();
  }
  TensorView t;
  t.name = name;
  t.type = type;
  t.shape = {out, in, 1, 1};
  t.n_dims = 2;
  t.bytes = row_bytes(type, out) * size_t(in);
  std::vector<uint8_t>& bytes = storage.emplace_back(t.bytes);
  const size_t row_size = row_bytes(type, out);
  thread_pool().parallel_for(in, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      type_info(type).from_float(wt.data() + size_t(r) * out, bytes.data() + size_t(r) * row_size, out);
  }, /*grain=*/16);
  t.data = bytes.data();
  if (can_pack(t) && type_kernels(type).packed_isa == kernel_isa()) pack_in_place(t, bytes.data());
  return t;
}

std::vector<float> f32_copy(const TensorView& tensor) {
  std::vector<float> scratch;
  const float* data = f32_data(tensor, scratch);
  return std::vector<float>(data, data + tensor.elements());
}

// layers.h's swiglu_backward for one f32 row, writing instead of adding, with σ(g) from the
// vectorized exp (kernels/dispatch.h; within 2 ulp, inputs clamped to ±88): the MLP's
// exponentials were a sixth of the pass with std::exp. `e` is scratch for `count` floats.
void swiglu_backward_row(float* dg, float* du, const float* dh, const float* g, const float* u, int count, float* e) {
  for (int i = 0; i < count; ++i) e[i] = -g[i];
  vector_kernels().exp_shifted(e, count, 0.0f);  // e = exp(−g)
  for (int i = 0; i < count; ++i) {
    const float sig = 1.0f / (1.0f + e[i]);
    dg[i] = dh[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
    du[i] = dh[i] * g[i] * sig;
  }
}

// rstd (and mean, LayerNorm) of rows x (rows, dim), as layers.h's forward norms compute them.
void norm_statistics(float* mean, float* rstd, const float* x, int rows, int dim, float eps, bool layernorm) {
  parallel_range(rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + size_t(r) * dim;
      float m = 0, sum = 0;
      if (layernorm) {
        for (int i = 0; i < dim; ++i) m += xr[i];
        m /= float(dim);
        mean[r] = m;
      }
      for (int i = 0; i < dim; ++i) sum += (xr[i] - m) * (xr[i] - m);
      rstd[r] = 1.0f / std::sqrt(sum / float(dim) + eps);
    }
  });
}

// dx += the backward of the norm (RMSNorm, or LayerNorm for GPT-2) of rows x, for dout.
void norm_backward_rows(float* dx, const float* dout, const float* x, const float* w, int rows, int dim, float eps,
                        bool layernorm, std::vector<float>& mean, std::vector<float>& rstd) {
  mean.resize(size_t(rows));
  rstd.resize(size_t(rows));
  norm_statistics(mean.data(), rstd.data(), x, rows, dim, eps, layernorm);
  if (layernorm)
    layernorm_backward_rows(dx, static_cast<float*>(nullptr), static_cast<float*>(nullptr), dout, x, w, mean.data(),
                            rstd.data(), rows, dim);
  else
    rmsnorm_backward_rows(dx, static_cast<float*>(nullptr), dout, x, w, rstd.data(), rows, dim);
}

}  // namespace

BackwardWeights backward_weights(const Model& model, TensorType type) {
  const ModelConfig& c = model.config;
  const ModelWeights& w = model.weights;
  BackwardWeights b;
  b.config = c;
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[size_t(l)];
    const std::string name = "blk." + std::to_string(l) + ".";
    BackwardWeights::Layer layer;
    if (is_gpt2(c)) {
      layer.qkv = stacked_transpose(name + "attn_qkv.T", {&lw.wqkv}, type, b.storage);
      layer.gate_up = stacked_transpose(name + "ffn_up.T", {&lw.w_up}, type, b.storage);
    } else {
      layer.qkv = stacked_transpose(name + "attn_qkv.T", {&lw.wq, &lw.wk, &lw.wv}, type, b.storage);
      layer.gate_up = stacked_transpose(name + "ffn_gate_up.T", {&lw.w_gate, &lw.w_up}, type, b.storage);
    }
    layer.out = stacked_transpose(name + "attn_output.T", {&lw.wo}, type, b.storage);
    layer.down = stacked_transpose(name + "ffn_down.T", {&lw.w_down}, type, b.storage);
    layer.attn_norm = f32_copy(lw.attn_norm);
    layer.ffn_norm = f32_copy(lw.ffn_norm);
    b.layers.push_back(std::move(layer));
  }
  b.unembedding = stacked_transpose("output.T", {&w.output}, type, b.storage);
  b.output_norm = f32_copy(w.output_norm);
  if (!is_gpt2(c)) b.rope_freq_factors = make_state(model, 1).rope_freq_factors;
  return b;
}

void input_gradient(const BackwardWeights& w, const SavedPass& s, int position, const float* dlogits,
                    float* d_token_rows) {
  const ModelConfig& c = w.config;
  const int n = s.n, dim = c.dim, hd = c.head_dim, ff = c.ff_dim;
  const int q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd, qkv_dim = q_dim + 2 * kv_dim;
  const bool gpt2 = is_gpt2(c);
  const int gate_up_dim = gpt2 ? ff : 2 * ff;
  if (position < 0 || position >= n) fail("the target position " + std::to_string(position) + " is outside the text");
  if (!s.residual || !s.residual_mid || !s.queries || !s.keys || !s.values || !s.attention || !s.mlp_gate ||
      (!gpt2 && !s.mlp_up))
    fail("input_gradient: the inference pass did not keep the gradient inputs");
  const int m = position + 1;  // rows that can influence the target
  const float eps = c.norm_eps;
  const float theta_scale = std::pow(c.rope_base, -2.0f / float(std::max(1, c.rope_dims)));
  const float* factors = w.rope_freq_factors.empty() ? nullptr : w.rope_freq_factors.data();
  const bool adjacent = c.rope_style == RopeStyle::Adjacent;
  const size_t rows_dim = size_t(n) * dim;  // one layer's slot in the saved (layers, n, dim) arrays

  std::vector<float> dx(size_t(m) * dim, 0.0f), dln(size_t(m) * dim), dnormed(static_cast<size_t>(dim)), mean, rstd;
  std::vector<float> dhidden(size_t(m) * ff), dgate_up(size_t(m) * gate_up_dim);     // dgate|dup per row
  std::vector<float> datt(size_t(m) * q_dim), dq(size_t(m) * q_dim), dk(size_t(m) * kv_dim), dv(size_t(m) * kv_dim);
  std::vector<float> dqkv(size_t(m) * qkv_dim);                                     // dq|dk|dv per row

  // logits[position] = U · norm(x_final[position]): only that row has a gradient.
  matmul(w.unembedding, dlogits, 1, dnormed.data());
  norm_backward_rows(dx.data() + size_t(position) * dim, dnormed.data(),
                     s.residual + size_t(c.n_layers) * rows_dim + size_t(position) * dim, w.output_norm.data(), 1, dim,
                     eps, gpt2, mean, rstd);

  // Rows [live, m) carry gradient: only `position` until the first attention backward.
  int live = position;
  for (int layer = c.n_layers - 1; layer >= 0; --layer) {
    const BackwardWeights::Layer& lw = w.layers[size_t(layer)];
    const float* x = s.residual + size_t(layer) * rows_dim;
    const float* x_mid = s.residual_mid + size_t(layer) * rows_dim;
    const float* gate = s.mlp_gate + (size_t(layer) * n + live) * ff;
    const int rows = m - live;

    // MLP: next = x_mid + Wdown·hidden.  dx holds d(next); it flows on to x_mid.
    matmul(lw.down, dx.data() + size_t(live) * dim, rows, dhidden.data());
    if (gpt2) {
      std::fill_n(dgate_up.begin(), size_t(rows) * ff, 0.0f);
      gelu_backward_par(dgate_up.data(), dhidden.data(), gate, rows * ff);
    } else {
      const float* up = s.mlp_up + (size_t(layer) * n + live) * ff;
      parallel_range(rows, 4, [&](int64_t r0, int64_t r1) {
        std::vector<float> e(static_cast<size_t>(ff));
        for (int64_t r = r0; r < r1; ++r) {
          float* dg = dgate_up.data() + size_t(r) * 2 * ff;
          swiglu_backward_row(dg, dg + ff, dhidden.data() + size_t(r) * ff, gate + size_t(r) * ff, up + size_t(r) * ff, ff,
                              e.data());
        }
      });
    }
    matmul(lw.gate_up, dgate_up.data(), rows, dln.data());
    norm_backward_rows(dx.data() + size_t(live) * dim, dln.data(), x_mid + size_t(live) * dim, lw.ffn_norm.data(), rows,
                       dim, eps, gpt2, mean, rstd);

    // Attention: x_mid = x + Wo·att.  dx holds d(x_mid); it flows on to x.
    std::fill(datt.begin(), datt.begin() + ptrdiff_t(live) * q_dim, 0.0f);
    matmul(lw.out, dx.data() + size_t(live) * dim, rows, datt.data() + size_t(live) * q_dim);
    std::fill(dq.begin(), dq.end(), 0.0f);
    std::fill(dk.begin(), dk.end(), 0.0f);
    std::fill(dv.begin(), dv.end(), 0.0f);
    attention_backward_products(dq.data(), dk.data(), dv.data(), datt.data(),
                                s.attention + size_t(layer) * c.n_heads * n * n, n,
                                s.queries + size_t(layer) * n * q_dim, s.keys + size_t(layer) * n * kv_dim,
                                s.values + size_t(layer) * n * kv_dim, m, c.n_heads, c.n_kv_heads, hd);
    live = 0;
    if (!gpt2) {
      rope_backward(dq.data(), m, c.n_heads, hd, c.rope_dims, theta_scale, factors, adjacent);
      rope_backward(dk.data(), m, c.n_kv_heads, hd, c.rope_dims, theta_scale, factors, adjacent);
    }
    for (int t = 0; t < m; ++t) {
      float* row = dqkv.data() + size_t(t) * qkv_dim;
      std::copy_n(dq.begin() + ptrdiff_t(t) * q_dim, q_dim, row);
      std::copy_n(dk.begin() + ptrdiff_t(t) * kv_dim, kv_dim, row + q_dim);
      std::copy_n(dv.begin() + ptrdiff_t(t) * kv_dim, kv_dim, row + q_dim + kv_dim);
    }
    matmul(lw.qkv, dqkv.data(), m, dln.data());
    norm_backward_rows(dx.data(), dln.data(), x, lw.attn_norm.data(), m, dim, eps, gpt2, mean, rstd);
  }
  // x0 = token rows (+ position rows)
  std::copy(dx.begin(), dx.end(), d_token_rows);
}

// ============================================================================================
// Objectives

template <class T>
T log_prob_objective(const Parameters<T>& p, const T* token_rows, int n, int position, int32_t target,
                     int32_t contrast, T* grad_rows, Activations<T>& a) {
  const int vocab = p.config.vocab_size;
  if (position < 0 || position >= n) fail("the target position " + std::to_string(position) + " is outside the text");
  if (target < 0 || target >= vocab) fail("the target token " + std::to_string(target) + " is outside the vocabulary");
  if (contrast >= vocab) fail("the contrast token " + std::to_string(contrast) + " is outside the vocabulary");
  const int row[1] = {position};
  model_forward(p, token_rows, n, row, a);
  std::vector<T> log_probs(a.logits.begin(), a.logits.end());
  log_softmax(log_probs.data(), vocab);
  T value = log_probs[size_t(target)] - (contrast >= 0 ? log_probs[size_t(contrast)] : T(0));
  if (grad_rows) {
    // d log p_a / d logits = onehot(a) − softmax; the softmax terms cancel in log p_a − log p_b.
    std::vector<T> dlogits(size_t(vocab), T(0));
    if (contrast < 0)
      for (int i = 0; i < vocab; ++i) dlogits[size_t(i)] = -std::exp(log_probs[size_t(i)]);
    dlogits[size_t(target)] += T(1);
    if (contrast >= 0) dlogits[size_t(contrast)] -= T(1);
    model_backward(p, a, dlogits.data(), grad_rows, static_cast<Parameters<T>*>(nullptr));
  }
  return value;
}

template <class T>
T cross_entropy_backward(const Parameters<T>& p, std::span<const int32_t> inputs, std::span<const int32_t> targets,
                         int batch, int seq_len, Parameters<T>* grads) {
  const int vocab = p.config.vocab_size;
  if (batch <= 0 || seq_len <= 0 || inputs.size() != size_t(batch) * seq_len || targets.size() != inputs.size())
    fail("cross_entropy_backward: inputs and targets must both hold batch x seq_len tokens");
  int counted = 0;
  for (int32_t t : targets) {
    if (t >= vocab) fail("target token " + std::to_string(t) + " is outside the vocabulary");
    counted += t >= 0;
  }
  if (counted == 0) return T(0);
  std::vector<int> rows(static_cast<size_t>(seq_len));
  for (int t = 0; t < seq_len; ++t) rows[size_t(t)] = t;
  Activations<T> a;
  T total = 0;
  for (int b = 0; b < batch; ++b) {
    std::span<const int32_t> in = inputs.subspan(size_t(b) * seq_len, size_t(seq_len));
    std::span<const int32_t> target = targets.subspan(size_t(b) * seq_len, size_t(seq_len));
    const std::vector<T> token_rows = embed_tokens(p, in);
    model_forward(p, token_rows.data(), seq_len, rows, a);
    std::vector<T> dlogits(size_t(seq_len) * vocab, T(0));
    for (int t = 0; t < seq_len; ++t) {
      if (target[size_t(t)] < 0) continue;
      T* lp = a.logits.data() + size_t(t) * vocab;
      log_softmax(lp, vocab);
      total -= lp[target[size_t(t)]];
      // d(mean −log p_target)/d logits = (softmax − onehot) / counted
      T* d = dlogits.data() + size_t(t) * vocab;
      for (int i = 0; i < vocab; ++i) d[i] = std::exp(lp[i]) / T(counted);
      d[target[size_t(t)]] -= T(1) / T(counted);
    }
    if (grads) model_backward(p, a, dlogits.data(), static_cast<T*>(nullptr), grads, in);
  }
  return total / T(counted);
}

// ============================================================================================

#define LOUPE_GRAD_INSTANTIATE(T)                                                                          \
  template struct Parameters<T>;                                                                          \
  template Parameters<T> parameters_from_model<T>(const Model&);                                          \
  template Parameters<T> zeros_like<T>(const Parameters<T>&);                                             \
  template Parameters<T> convert<T>(const Parameters<float>&);                                            \
  template std::vector<T> embed_tokens<T>(const Parameters<T>&, std::span<const int32_t>);               \
  template void model_forward<T>(const Parameters<T>&, const T*, int, std::span<const int>, Activations<T>&); \
  template void model_backward<T>(const Parameters<T>&, Activations<T>&, const T*, T*, Parameters<T>*,    \
                                  std::span<const int32_t>);                                              \
  template T log_prob_objective<T>(const Parameters<T>&, const T*, int, int, int32_t, int32_t, T*,        \
                                   Activations<T>&);                                                      \
  template T cross_entropy_backward<T>(const Parameters<T>&, std::span<const int32_t>,                    \
                                       std::span<const int32_t>, int, int, Parameters<T>*);

LOUPE_GRAD_INSTANTIATE(float)
LOUPE_GRAD_INSTANTIATE(double)

}  // namespace loupe::grad
