// The transformer's element-wise steps: plain loops, except softmax's exponentials and
// SwiGLU, which go through the vector kernels (kernels/dispatch.h; plain versions here).
#include "kernels/ops.h"

#include <algorithm>
#include <cmath>

#include "core/half.h"
#include "kernels/dispatch.h"
#include "kernels/thread_pool.h"

namespace loupe {

namespace {
// Below these sizes a step is cheaper than handing it to another thread: rows of a
// prompt, and values of SwiGLU (cut at multiples of kSwigluBlock, so each value goes
// through the same vector or tail code as in one call and keeps its bits).
constexpr int64_t kRowsPerChunk = 8;
constexpr int64_t kSwigluBlock = 64;
constexpr int64_t kSwigluBlocksPerChunk = 256;
}  // namespace

void rmsnorm(float* out, const float* x, const float* weight, int n, float eps) {
  // The sum in double (stable for wide rows); the rest in float, rounding as llama.cpp
  // does, so 8-bit activation rounding downstream lands on the same side.
  double sum_squares = 0;
  for (int i = 0; i < n; ++i) sum_squares += double(x[i] * x[i]);
  const float mean = float(sum_squares / n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void layernorm(float* out, const float* x, const float* weight, const float* bias, int n, float eps) {
  double mean = 0;
  for (int i = 0; i < n; ++i) mean += x[i];
  mean /= n;
  double variance = 0;
  for (int i = 0; i < n; ++i) variance += (x[i] - mean) * (x[i] - mean);
  variance /= n;
  const float scale = float(1.0 / std::sqrt(variance + eps));
  for (int i = 0; i < n; ++i) out[i] = float(x[i] - mean) * scale * weight[i] + (bias ? bias[i] : 0.0f);
}

// The plain vector kernels (kernels/dispatch.h); SIMD versions replace them.
namespace {
float dot_scalar(const float* a, const float* b, int n) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += double(a[i] * b[i]);
  return float(sum);
}
void axpy_scalar(float* y, float a, const float* x, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}
void dots_scalar(const float* a, const float* rows, size_t row_stride, int n, int count, float* out) {
  for (int j = 0; j < count; ++j) out[j] = dot_scalar(a, rows + size_t(j) * row_stride, n);
}
void axpys_scalar(float* y, const float* alphas, const float* rows, size_t row_stride, int n, int count) {
  for (int j = 0; j < count; ++j) axpy_scalar(y, alphas[j], rows + size_t(j) * row_stride, n);
}
float exp_shifted_scalar(float* x, int n, float shift) {
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    sum += x[i];
  }
  return float(sum);
}
void swiglu_scalar(float* gate_inout, const float* up, int n) {
  for (int i = 0; i < n; ++i) {
    const float g = gate_inout[i];
    gate_inout[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}
}  // namespace

VectorKernels scalar_vector_kernels() {
  VectorKernels k;
  k.dot = dot_scalar;
  k.axpy = axpy_scalar;
  k.dots = dots_scalar;
  k.axpys = axpys_scalar;
  k.exp_shifted = exp_shifted_scalar;
  k.swiglu = swiglu_scalar;
  return k;
}

void softmax(float* x, int n) {
  float max_value = x[0];
  for (int i = 1; i < n; ++i) max_value = std::max(max_value, x[i]);
  const float inv_sum = 1.0f / vector_kernels().exp_shifted(x, n, max_value);
  for (int i = 0; i < n; ++i) x[i] *= inv_sum;
}

void rmsnorm_rows(float* out, const float* x, const float* weight, int n_rows, int n, float eps) {
  thread_pool().parallel_for(n_rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) rmsnorm(out + r * n, x + r * n, weight, n, eps);
  }, kRowsPerChunk);
}

void swiglu(float* gate_inout, const float* up, int n) {
  const VectorKernels& k = vector_kernels();
  const int64_t blocks = (int64_t(n) + kSwigluBlock - 1) / kSwigluBlock;
  thread_pool().parallel_for(blocks, [&](int64_t begin, int64_t end) {
    const int64_t i0 = begin * kSwigluBlock, i1 = std::min<int64_t>(n, end * kSwigluBlock);
    k.swiglu(gate_inout + i0, up + i0, int(i1 - i0));
  }, kSwigluBlocksPerChunk);
}

float gelu_exact(float v) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * v * (1.0f + 0.044715f * v * v)));
}

// llama.cpp (ggml) evaluates GELU through a table indexed by the input rounded to f16 and
// storing f16 results. Doing the same keeps GPT-2 logits within ~1e-5 of llama.cpp's,
// instead of ~4e-4 (and far less after 8-bit activation rounding amplifies it). The
// difference from the exact curve is below f16 precision.
void gelu(float* x, int n) {
  for (int i = 0; i < n; ++i) {
    const float v = x[i];
    if (v <= -10.0f) x[i] = 0.0f;
    else if (v >= 10.0f) x[i] = v;
    else x[i] = f16_to_f32(f32_to_f16(gelu_exact(f16_to_f32(f32_to_f16(v)))));
  }
}

void add_in_place(float* x, const float* y, int n) {
  for (int i = 0; i < n; ++i) x[i] += y[i];
}

void rope_angles(int first_pos, int n_positions, int rope_dims, float theta_scale, const float* freq_factors,
                 float* cos_out, float* sin_out) {
  // The angle of pair i is pos * theta_scale^i, built by repeated float multiplication as
  // llama.cpp does, so both round the same way.
  const int half = rope_dims / 2;
  for (int p = 0; p < n_positions; ++p) {
    float theta = float(first_pos + p);
    for (int i = 0; i < half; ++i, theta *= theta_scale) {
      const float angle = freq_factors ? theta / freq_factors[i] : theta;
      cos_out[size_t(p) * half + i] = std::cos(angle);
      sin_out[size_t(p) * half + i] = std::sin(angle);
    }
  }
}

void rope_rotate(float* out, const float* head, const float* cos, const float* sin, int rope_dims, int head_dim,
                 bool adjacent) {
  const int half = rope_dims / 2;
  for (int i = 0; i < half; ++i) {
    const int ia = adjacent ? 2 * i : i, ib = adjacent ? 2 * i + 1 : i + half;
    const float a = head[ia], b = head[ib];
    out[ia] = a * cos[i] - b * sin[i];
    out[ib] = a * sin[i] + b * cos[i];
  }
  if (out != head)
    for (int i = rope_dims; i < head_dim; ++i) out[i] = head[i];
}

}  // namespace loupe
