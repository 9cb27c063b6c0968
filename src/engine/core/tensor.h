// A view of one tensor's bytes inside a loaded file or buffer: type, shape, data. Views
// never own memory; the Model that made them keeps the bytes alive.
//
// Shapes follow ggml: shape[0] is the contiguous dimension (a row's length), so a weight
// matrix with `out` rows of `in` values has shape {in, out}. A `packed` matrix has had
// its rows interleaved in groups of 16 for the matrix products (kernels/packed.h): read
// its rows with read_row or copy_row_bytes, never through row().
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "core/tensor_types.h"

namespace loupe {

struct TensorView {
  std::string name;
  TensorType type = TensorType::F32;
  std::array<int64_t, 4> shape{1, 1, 1, 1};
  int n_dims = 1;
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  bool packed = false;  // rows interleaved by kernels/packed.h (a model's weights, once loaded)

  int64_t row_length() const { return shape[0]; }
  int64_t rows() const { return shape[1] * shape[2] * shape[3]; }
  int64_t elements() const { return shape[0] * rows(); }
  size_t bytes_per_row() const { return row_bytes(type, shape[0]); }
  const uint8_t* row(int64_t r) const { return data + size_t(r) * bytes_per_row(); }  // row-major only
  bool empty() const { return data == nullptr; }
};

}  // namespace loupe
