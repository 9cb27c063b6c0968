// One table describes every tensor type Loupe reads (as ggml's type traits do): block
// size, bytes per block, how to turn blocks into floats and back, and how to take a dot
// product with activations. Adding a type is adding a row in tensor_types.cpp.
//
// Quantized dot products follow ggml: activations are first quantized to the type's
// `dot_partner` (Q8_0, Q8_1 or Q8_K blocks, rounding half to even), then an integer
// dot product runs block by block. F32/F16/BF16 dot directly against f32 activations
// converted to the same type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace loupe {

// Values are GGUF/ggml type ids, so they can be read straight from a file.
enum class TensorType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};

// Dequantize `n` values (a multiple of block_size) from `blocks` into `out`.
using ToFloatFn = void (*)(const void* blocks, float* out, int64_t n);
// Quantize `n` floats (a multiple of block_size) into `blocks`.
using FromFloatFn = void (*)(const float* in, void* blocks, int64_t n);
// Dot product of `n` values: `row` is in this type, `partner` in the dot_partner type.
using DotFn = float (*)(const void* row, const void* partner, int64_t n);

struct TensorTypeInfo {
  TensorType type;
  const char* name;          // as ggml/gguf names it: "q4_0", "f16" ...
  int block_size;            // values per block
  size_t block_bytes;        // bytes per block
  bool quantized;
  ToFloatFn to_float;
  FromFloatFn from_float;    // null where Loupe cannot write the type
  TensorType dot_partner;    // the type activations take for `dot`
  DotFn dot;                 // scalar reference; kernels/ may install faster versions
};

// Every row of the table, in type-id order (for tests, menus and error messages).
std::span<const TensorTypeInfo> all_type_infos();

// Null if `type_id` is not a type Loupe supports.
const TensorTypeInfo* find_type_info(uint32_t type_id);
const TensorTypeInfo& type_info(TensorType type);     // throws loupe::Error if unsupported
const TensorTypeInfo* find_type_info(std::string_view name);  // "q8_0", case-insensitive

// Bytes taken by `n_values` values of `type`; `n_values` must be a multiple of the block.
size_t row_bytes(TensorType type, int64_t n_values);

}  // namespace loupe
