// The small element-wise and row-wise building blocks of a transformer. Plain loops over
// f32 (the row-wise ones of a prompt spread over the thread pool); the matrix products,
// where the time goes, are in kernels/matmul.h.
#pragma once
#include <cstdint>

namespace loupe {

// out = x / rms(x) * weight                         (RMSNorm, Llama family)
void rmsnorm(float* out, const float* x, const float* weight, int n, float eps);
// rmsnorm of each of n_rows rows of n values (a prompt's rows across the thread pool).
void rmsnorm_rows(float* out, const float* x, const float* weight, int n_rows, int n, float eps);
// out = (x - mean) / std * weight + bias             (LayerNorm, GPT-2)
void layernorm(float* out, const float* x, const float* weight, const float* bias, int n, float eps);
// x = exp(x - max) / sum, in place
void softmax(float* x, int n);
// x = x * sigmoid(x) * up                            (SwiGLU's gate; a prompt's rows
// across the thread pool, each value with the bits a single call gives it)
void swiglu(float* gate_inout, const float* up, int n);
// x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (GPT-2's GELU, tanh form),
// evaluated at f16 precision as llama.cpp does (see ops.cpp); gelu_exact is the curve.
void gelu(float* x, int n);
float gelu_exact(float x);
void add_in_place(float* x, const float* y, int n);

// RoPE. The angle of pair i at position pos is pos * theta_scale^i, divided by
// freq_factors[i] when given (Llama 3 scaling). rope_angles writes the cosines and sines
// of n_positions positions from first_pos, (n_positions, rope_dims / 2) each, once per
// forward pass; rope_rotate turns one head by one position's angles: `adjacent` pairs
// (x[2i], x[2i+1]), otherwise (x[i], x[i + rope_dims/2]); dimensions past rope_dims are
// copied. `out` may be `head` (in place) or, for keys, their row in the KV cache.
void rope_angles(int first_pos, int n_positions, int rope_dims, float theta_scale, const float* freq_factors,
                 float* cos_out, float* sin_out);
void rope_rotate(float* out, const float* head, const float* cos, const float* sin, int rope_dims, int head_dim,
                 bool adjacent);

}  // namespace loupe
