// The small element-wise and row-wise building blocks of a transformer. Plain loops over
// f32; the matrix products, where the time goes, are in kernels/matmul.h.
#pragma once
#include <cstdint>

namespace loupe {

// out = x / rms(x) * weight                         (RMSNorm, Llama family)
void rmsnorm(float* out, const float* x, const float* weight, int n, float eps);
// out = (x - mean) / std * weight + bias             (LayerNorm, GPT-2)
void layernorm(float* out, const float* x, const float* weight, const float* bias, int n, float eps);
// x = exp(x - max) / sum, in place
void softmax(float* x, int n);
// x = x * sigmoid(x) * up                            (SwiGLU's gate)
void swiglu(float* gate_inout, const float* up, int n);
// x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (GPT-2's GELU, tanh form),
// evaluated at f16 precision as llama.cpp does (see ops.cpp); gelu_exact is the curve.
void gelu(float* x, int n);
float gelu_exact(float x);
void add_in_place(float* x, const float* y, int n);

// Rotates one head's vector by position `pos`: pair i turns by pos * theta_scale^i
// radians, divided by freq_factors[i] when given (Llama 3 scaling). `adjacent` pairs
// (x[2i], x[2i+1]); otherwise (x[i], x[i + rope_dims/2]).
void rope(float* head, int rope_dims, int pos, float theta_scale, const float* freq_factors, bool adjacent);

}  // namespace loupe
