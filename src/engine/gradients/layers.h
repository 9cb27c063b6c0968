// The layers of the backward pass, each a forward/backward pair side by side with the
// same argument order (llm.c style). Forward functions write their outputs and whatever
// the backward pass needs (rstd, probabilities); backward functions ADD into the gradient
// arrays they are given (so a gradient reaching one array along two paths sums), and skip
// any gradient array passed as null. Templated on the scalar type: f32 for use, f64 for
// the finite-difference tests.
//
// Layouts: activations are (n, width) row-major, one row per token; weights (out, in)
// row-major, one row per output as ggml stores them.
#pragma once
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/gemm_f32.h"

namespace loupe::grad {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <class T>
using RowVectorMap = Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>;
template <class T>
using ConstRowVectorMap = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

// ------------------------------------------------------------------------------------------
// matmul: out = in · Wᵀ + b          in (n, in_dim), w (out_dim, in_dim), b (out_dim) or null
// In f32 the products run on kernels/gemm_f32.h (threaded, widest SIMD the CPU has); f64
// (the finite-difference tests) stays on plain Eigen.
template <class T>
void matmul_forward(T* out, const T* in, const T* w, const T* b, int n, int in_dim, int out_dim) {
  MatrixMap<T> o(out, n, out_dim);
  if constexpr (std::is_same_v<T, float>)
    gemm_f32_a_bt(out, in, w, n, in_dim, out_dim, false);
  else
    o.noalias() = ConstMatrixMap<T>(in, n, in_dim) * ConstMatrixMap<T>(w, out_dim, in_dim).transpose();
  if (b) o.rowwise() += ConstRowVectorMap<T>(b, out_dim);
}
// din += dout · W,  dw += doutᵀ · in,  db += Σ_rows dout
template <class T>
void matmul_backward(T* din, T* dw, T* db, const T* dout, const T* in, const T* w, int n, int in_dim, int out_dim) {
  ConstMatrixMap<T> d(dout, n, out_dim);
  if constexpr (std::is_same_v<T, float>) {
    if (din) gemm_f32_a_b_add(din, dout, w, n, out_dim, in_dim);
    if (dw) gemm_f32_at_b_add(dw, dout, in, n, out_dim, in_dim);
  } else {
    if (din) MatrixMap<T>(din, n, in_dim).noalias() += d * ConstMatrixMap<T>(w, out_dim, in_dim);
    if (dw) MatrixMap<T>(dw, out_dim, in_dim).noalias() += d.transpose() * ConstMatrixMap<T>(in, n, in_dim);
  }
  if (db) RowVectorMap<T>(db, out_dim) += d.colwise().sum();
}

// ------------------------------------------------------------------------------------------
// RMSNorm: out = x · rstd · w,  rstd = 1 / sqrt(mean(x²) + eps)       x (n, dim)
template <class T>
void rmsnorm_forward(T* out, T* rstd, const T* x, const T* w, int n, int dim, T eps) {
  for (int t = 0; t < n; ++t) {
    const T* xt = x + size_t(t) * dim;
    T sum = 0;
    for (int i = 0; i < dim; ++i) sum += xt[i] * xt[i];
    const T r = T(1) / std::sqrt(sum / T(dim) + eps);
    rstd[t] = r;
    for (int i = 0; i < dim; ++i) out[size_t(t) * dim + i] = xt[i] * r * w[i];
  }
}
// With x̂ = x·rstd and g = dout·w:  dx = rstd · (g − x̂ · mean(g·x̂)),  dw = Σ dout·x̂
template <class T>
void rmsnorm_backward(T* dx, T* dw, const T* dout, const T* x, const T* w, const T* rstd, int n, int dim) {
  for (int t = 0; t < n; ++t) {
    const T* xt = x + size_t(t) * dim;
    const T* dt = dout + size_t(t) * dim;
    const T r = rstd[t];
    T dot = 0;
    for (int i = 0; i < dim; ++i) dot += dt[i] * w[i] * xt[i] * r;
    dot /= T(dim);
    for (int i = 0; i < dim; ++i) {
      const T xhat = xt[i] * r;
      if (dx) dx[size_t(t) * dim + i] += r * (dt[i] * w[i] - xhat * dot);
      if (dw) dw[i] += dt[i] * xhat;
    }
  }
}

// ------------------------------------------------------------------------------------------
// LayerNorm: out = (x − mean) · rstd · w + b,  rstd = 1 / sqrt(var(x) + eps)
template <class T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* x, const T* w, const T* b, int n, int dim, T eps) {
  for (int t = 0; t < n; ++t) {
    const T* xt = x + size_t(t) * dim;
    T m = 0;
    for (int i = 0; i < dim; ++i) m += xt[i];
    m /= T(dim);
    T var = 0;
    for (int i = 0; i < dim; ++i) var += (xt[i] - m) * (xt[i] - m);
    const T r = T(1) / std::sqrt(var / T(dim) + eps);
    mean[t] = m;
    rstd[t] = r;
    for (int i = 0; i < dim; ++i) out[size_t(t) * dim + i] = (xt[i] - m) * r * w[i] + (b ? b[i] : T(0));
  }
}
// With x̂ = (x − mean)·rstd and g = dout·w:  dx = rstd · (g − mean(g) − x̂ · mean(g·x̂))
template <class T>
void layernorm_backward(T* dx, T* dw, T* db, const T* dout, const T* x, const T* w, const T* mean, const T* rstd,
                        int n, int dim) {
  for (int t = 0; t < n; ++t) {
    const T* xt = x + size_t(t) * dim;
    const T* dt = dout + size_t(t) * dim;
    const T m = mean[t], r = rstd[t];
    T g_mean = 0, gx_mean = 0;
    for (int i = 0; i < dim; ++i) {
      const T g = dt[i] * w[i];
      g_mean += g;
      gx_mean += g * (xt[i] - m) * r;
    }
    g_mean /= T(dim);
    gx_mean /= T(dim);
    for (int i = 0; i < dim; ++i) {
      const T xhat = (xt[i] - m) * r;
      if (dx) dx[size_t(t) * dim + i] += r * (dt[i] * w[i] - g_mean - xhat * gx_mean);
      if (dw) dw[i] += dt[i] * xhat;
      if (db) db[i] += dt[i];
    }
  }
}

// ------------------------------------------------------------------------------------------
// RoPE, in place on x (n, n_heads * head_dim): pair i of each head at position t turns by
// t · theta_scale^i (/ factors[i]). The angle is built in float as model/ (kernels/ops.cpp)
// builds it, so this pass rotates by the same angles as inference.
inline float rope_angle(int pos, int pair, float theta_scale, const float* factors) {
  float theta = float(pos);
  for (int i = 0; i < pair; ++i) theta *= theta_scale;
  return factors ? theta / factors[pair] : theta;
}
// sign +1 rotates forward; −1 undoes it (the backward of a rotation is its transpose).
template <class T>
void rope_rotate(T* x, int n, int n_heads, int head_dim, int rope_dims, float theta_scale, const float* factors,
                 bool adjacent, int sign) {
  const int half = rope_dims / 2;
  std::vector<T> cosines(static_cast<size_t>(half)), sines(static_cast<size_t>(half));
  for (int t = 0; t < n; ++t) {
    float theta = float(t);  // repeated multiplication, as rope_angle and kernels/ops.cpp
    for (int i = 0; i < half; ++i, theta *= theta_scale) {
      const float angle = factors ? theta / factors[i] : theta;
      cosines[size_t(i)] = T(std::cos(angle));
      sines[size_t(i)] = T(sign) * T(std::sin(angle));
    }
    for (int h = 0; h < n_heads; ++h) {
      T* head = x + (size_t(t) * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        T& a = adjacent ? head[2 * i] : head[i];
        T& b = adjacent ? head[2 * i + 1] : head[i + half];
        const T a0 = a, b0 = b, c = cosines[size_t(i)], s = sines[size_t(i)];
        a = a0 * c - b0 * s;
        b = a0 * s + b0 * c;
      }
    }
  }
}
template <class T>
void rope_forward(T* x, int n, int n_heads, int head_dim, int rope_dims, float theta_scale, const float* factors,
                  bool adjacent) {
  rope_rotate(x, n, n_heads, head_dim, rope_dims, theta_scale, factors, adjacent, +1);
}
// dx holds d(rotated x) on entry and d(x) on return.
template <class T>
void rope_backward(T* dx, int n, int n_heads, int head_dim, int rope_dims, float theta_scale, const float* factors,
                   bool adjacent) {
  rope_rotate(dx, n, n_heads, head_dim, rope_dims, theta_scale, factors, adjacent, -1);
}

// ------------------------------------------------------------------------------------------
// Causal self-attention with grouped-query heads (query head h reads kv head h / group).
// q (n, n_heads*hd), k and v (n, n_kv_heads*hd), out (n, n_heads*hd), probs (n_heads, n, n).
template <class T>
void attention_forward(T* out, T* probs, const T* q, const T* k, const T* v, int n, int n_heads, int n_kv_heads,
                       int head_dim) {
  const int q_dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
  const T scale = T(1) / std::sqrt(T(head_dim));
  for (int h = 0; h < n_heads; ++h) {
    const int kvh = h / group;
    for (int t = 0; t < n; ++t) {
      const T* qt = q + size_t(t) * q_dim + size_t(h) * head_dim;
      T* p = probs + (size_t(h) * n + t) * n;
      T max_score = -INFINITY;
      for (int s = 0; s <= t; ++s) {
        const T* ks = k + size_t(s) * kv_dim + size_t(kvh) * head_dim;
        T dot = 0;
        for (int i = 0; i < head_dim; ++i) dot += qt[i] * ks[i];
        p[s] = dot * scale;
        max_score = std::max(max_score, p[s]);
      }
      T sum = 0;
      for (int s = 0; s <= t; ++s) sum += (p[s] = std::exp(p[s] - max_score));
      for (int s = 0; s <= t; ++s) p[s] /= sum;
      std::fill(p + t + 1, p + n, T(0));
      T* o = out + size_t(t) * q_dim + size_t(h) * head_dim;
      std::fill(o, o + head_dim, T(0));
      for (int s = 0; s <= t; ++s) {
        const T* vs = v + size_t(s) * kv_dim + size_t(kvh) * head_dim;
        for (int i = 0; i < head_dim; ++i) o[i] += p[s] * vs[i];
      }
    }
  }
}
// dP[s] = dout·v_s;  dv_s += P[s]·dout;  dscore[s] = P[s]·(dP[s] − Σ P·dP);
// dq += scale · Σ dscore[s]·k_s;  dk_s += scale · dscore[s]·q
template <class T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* probs, const T* q, const T* k, const T* v, int n,
                        int n_heads, int n_kv_heads, int head_dim) {
  const int q_dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
  const T scale = T(1) / std::sqrt(T(head_dim));
  std::vector<T> dscore(static_cast<size_t>(n));
  for (int h = 0; h < n_heads; ++h) {
    const int kvh = h / group;
    for (int t = 0; t < n; ++t) {
      const T* p = probs + (size_t(h) * n + t) * n;
      const T* dot_ = dout + size_t(t) * q_dim + size_t(h) * head_dim;
      const T* qt = q + size_t(t) * q_dim + size_t(h) * head_dim;
      T weighted = 0;
      for (int s = 0; s <= t; ++s) {
        const T* vs = v + size_t(s) * kv_dim + size_t(kvh) * head_dim;
        T* dvs = dv + size_t(s) * kv_dim + size_t(kvh) * head_dim;
        T dp = 0;
        for (int i = 0; i < head_dim; ++i) {
          dp += dot_[i] * vs[i];
          dvs[i] += p[s] * dot_[i];
        }
        dscore[size_t(s)] = dp;
        weighted += p[s] * dp;
      }
      T* dqt = dq + size_t(t) * q_dim + size_t(h) * head_dim;
      for (int s = 0; s <= t; ++s) {
        const T ds = p[s] * (dscore[size_t(s)] - weighted) * scale;
        const T* ks = k + size_t(s) * kv_dim + size_t(kvh) * head_dim;
        T* dks = dk + size_t(s) * kv_dim + size_t(kvh) * head_dim;
        for (int i = 0; i < head_dim; ++i) {
          dqt[i] += ds * ks[i];
          dks[i] += ds * qt[i];
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------------------
// SwiGLU: h = silu(g) · u = g · σ(g) · u
template <class T>
void swiglu_forward(T* h, const T* g, const T* u, int count) {
  for (int i = 0; i < count; ++i) h[i] = g[i] / (T(1) + std::exp(-g[i])) * u[i];
}
// dg = dh · u · σ(g) · (1 + g·(1 − σ(g))),  du = dh · silu(g)
template <class T>
void swiglu_backward(T* dg, T* du, const T* dh, const T* g, const T* u, int count) {
  for (int i = 0; i < count; ++i) {
    const T sig = T(1) / (T(1) + std::exp(-g[i]));
    dg[i] += dh[i] * u[i] * sig * (T(1) + g[i] * (T(1) - sig));
    du[i] += dh[i] * g[i] * sig;
  }
}

// ------------------------------------------------------------------------------------------
// GELU, tanh form: h = ½x(1 + tanh(z)),  z = √(2/π)(x + 0.044715x³)
template <class T>
void gelu_forward(T* h, const T* x, int count) {
  const T c = T(0.7978845608028654);
  for (int i = 0; i < count; ++i) h[i] = T(0.5) * x[i] * (T(1) + std::tanh(c * (x[i] + T(0.044715) * x[i] * x[i] * x[i])));
}
// dh/dx = ½(1 + tanh z) + ½x(1 − tanh² z) · √(2/π)(1 + 3·0.044715x²)
template <class T>
void gelu_backward(T* dx, const T* dh, const T* x, int count) {
  const T c = T(0.7978845608028654);
  for (int i = 0; i < count; ++i) {
    const T xi = x[i];
    const T th = std::tanh(c * (xi + T(0.044715) * xi * xi * xi));
    const T local = T(0.5) * (T(1) + th) + T(0.5) * xi * (T(1) - th * th) * c * (T(1) + T(3 * 0.044715) * xi * xi);
    dx[i] += dh[i] * local;
  }
}

// ------------------------------------------------------------------------------------------
// log-softmax of one row of logits, in place: x ← x − log Σ exp(x)
template <class T>
void log_softmax(T* x, int count) {
  const T max_value = *std::max_element(x, x + count);
  T sum = 0;
  for (int i = 0; i < count; ++i) sum += std::exp(x[i] - max_value);
  const T log_sum = max_value + std::log(sum);
  for (int i = 0; i < count; ++i) x[i] -= log_sum;
}

}  // namespace loupe::grad
