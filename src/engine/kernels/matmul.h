// Matrix products against weights of any tensor type: the activations are converted once
// to the weight type's dot partner (e.g. Q8_0 blocks), then every weight row is dotted
// with every activation row by the fastest kernel the CPU has (kernels/dispatch.h).
//
// One token (generation) is a matrix-vector product that streams the weights once.
// Several tokens (reading a prompt) go tile by tile: a tile of weight rows stays in the
// L1 cache while every token's activations pass over it, so each weight byte comes from
// memory once per call, not once per token. Tiles are split across the thread pool; an
// output element is always computed by one thread with the same kernel, so results do
// not depend on the thread count.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace loupe {

// out[t][r] = weight.row(r) · in[t] for t < n_tokens, r < weight.rows().
// `in` is (n_tokens, weight.row_length()); `out` is (n_tokens, weight.rows()).
void matmul(const TensorView& weight, const float* in, int n_tokens, float* out);

// Same, adding `bias` (f32, one value per output row) when it is not empty.
void matmul_bias(const TensorView& weight, const TensorView& bias, const float* in, int n_tokens,
                 float* out);

// Several products of the same input (q, k and v; gate and up): the input is converted
// once per partner type and all of them run as one parallel job, which saves passes and
// thread wake-ups. Each target's `out` is (n_tokens, weight->rows()); `bias` may be null.
struct MatmulTarget {
  const TensorView* weight;
  float* out;
  const TensorView* bias = nullptr;
};
void matmul_shared_input(std::span<const MatmulTarget> targets, const float* in, int n_tokens);

// Dequantizes row `r` of `tensor` (packed or not) into `out` (tensor.row_length() floats).
void read_row(const TensorView& tensor, int64_t r, float* out);
// Every row of `tensor`, dequantized: (rows, row_length) floats.
std::vector<float> dequantize_rows(const TensorView& tensor);

// The f32 values of a small tensor (norm weights, biases): a pointer into the file when
// it is stored as f32, else a dequantized copy kept in `scratch`.
const float* f32_data(const TensorView& tensor, std::vector<float>& scratch);

}  // namespace loupe
