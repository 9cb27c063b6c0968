// Weight matrices repacked for the matrix products ("packed" rows).
//
// Row-major, a SIMD register holds 32 values of ONE row, and every dot product ends in
// a horizontal sum. Packed, 16 rows are interleaved block by block: one 64-byte vector
// holds the same 4 columns of 16 rows, so one instruction (x86's vpdpbusd) multiplies
// 16 rows by 4 broadcast activation bytes and each 32-bit lane is one output. Reading a
// prompt reuses each weight vector for many tokens; generation streams the weights once
// with no horizontal sums. (llama.cpp's repacked x86 kernels work the same way.)
//
// Packing happens once, in place, when a model is loaded: a group of 16 rows takes
// exactly the bytes the 16 rows took, and the rows after the last whole group stay
// row-major where they were, so packing costs no memory. Per group, block after block:
//
//   Q8_0  [16 x f16 d][8 steps x 16 rows x 4 levels + 128 (u8)]           544 = 16 x 34
//   Q4_0  [16 x f16 d][4 steps x 16 rows x 4 bytes, each 2 nibbles]         288 = 16 x 18
//         (step c holds the row's bytes 4c..4c+3: low nibbles are values 4c..4c+3,
//          high nibbles values 16+4c..16+4c+3, as in the row-major block)
//   Q5_0  [16 x f16 d][16 x u32 high bits, regrouped][4 steps as Q4_0]     352 = 16 x 22
//   Q4_1, Q5_1  [16 x f16 d][16 x f16 m][Q4_0's or Q5_0's layout after its d]
//                                                               320 = 16 x 20, 384 = 16 x 24
//   Q4_K, Q5_K, Q6_K per 256-value super-block: scales and levels regrouped the same way
//         (kernels/packed.cpp describes each)       16 x 144, 16 x 176, 16 x 210
//   F32, F16, BF16: column after column, [16 values]                  16 x 4 or 16 x 2
//
// The WebAssembly build packs Q5_0 (and Q5_1 after its mins) in 5-bit fields instead,
// three levels per 16-bit lane (kernels/packed.cpp): SIMD128 multiplies 16-bit lanes,
// and a level kept whole in a lane costs one operation to use.
//
// The Q8_0 family multiplies unsigned weight bytes by signed activation bytes (what
// vpdpbusd does): Q8_0 levels are stored plus 128, Q4_0 nibbles are q = level + 8, Q5_0's
// five bits q = level + 16. The activations' partner blocks carry -offset * (sum of their
// levels), so every integer block sum comes out exact:
//   sum((w + offset) * a) - offset * sum(a) = sum(w * a).
// The Q8_1 family (Q4_1, Q5_1: value = d * q + m, q unsigned) needs no offset; its partner
// blocks carry Q8_1's s = dy * sum(a) instead, for the m term.
//
// Every kernel of a packed type gives each output the bits of that instruction set's
// row-major dot: the float chain over blocks (Q8_0 and Q8_1 families) or columns (F16)
// runs in the same order in one lane, whatever the number of tokens or threads.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor.h"

namespace loupe {

constexpr int kPackedRows = 16;

// f32 activations -> the packed partner rows of a weight type (`n` values).
using PackedQuantizeFn = void (*)(const float* in, uint8_t* out, int64_t n);
// `n_groups` groups of 16 packed rows (`group_bytes` apart, `cols` columns each) times
// `n_tokens` partner rows (`act_bytes` apart): out[t * out_stride + 16 * g + r].
using PackedTileFn = void (*)(const uint8_t* groups, size_t group_bytes, int n_groups, int64_t cols,
                              const uint8_t* acts, size_t act_bytes, int n_tokens, float* out, size_t out_stride);
// One row-major row (a row after the last whole group) . one partner row.
using PackedTailDotFn = float (*)(const uint8_t* row, const uint8_t* act, int64_t cols);

// What a packed type is, and its plain scalar kernels (the reference the fast ones are
// tested against; kernels/dispatch.h installs the fastest the CPU has).
struct PackedTypeInfo {
  TensorType type;
  int partner_block;             // values per partner block
  size_t partner_block_bytes;    // bytes per partner block
  void (*pack_group)(const uint8_t* rows, size_t row_bytes, int64_t cols, uint8_t* group);
  void (*unpack_row)(const uint8_t* group, int64_t cols, int lane, uint8_t* row);
  PackedQuantizeFn quantize;
  PackedTileFn tile;
  PackedTailDotFn tail_dot;
  // True if no f16 in a row-major tensor's bytes (F16 weights, block scales) is an inf or
  // NaN; null for types without halves.
  bool (*halves_finite)(const uint8_t* data, size_t bytes);
};

// Null when `type` has no packed layout.
const PackedTypeInfo* find_packed_info(TensorType type);
// The field layout of Q5_0, Q5_1, Q5_K or Q6_K (what the WebAssembly build packs them
// in), in every build, so that native tests cover its scalar kernels too; null for other
// types.
const PackedTypeInfo* find_field_packed_info(TensorType type);

// Bytes of one partner row of `cols` values for packed weights of `type`.
size_t packed_partner_row_bytes(TensorType type, int64_t cols);

// True if `tensor` (a matrix not packed yet) can be packed: a packed type, 16 rows or more,
// and no f16 weight or scale that is inf or NaN (a broken file's), so that packed
// kernels may convert halves by moving bits (kernels/wasm_packed.inc), which only holds
// for finite values; such a matrix stays row-major.
bool can_pack(const TensorView& tensor);
// Packs the whole 16-row groups of `tensor` in place and marks it packed. `data` must be
// the tensor's own bytes, writable (the model's private copy).
void pack_in_place(TensorView& tensor, uint8_t* data);
// Row `r` of `tensor` (packed or not) as row-major bytes of its type, into `out`
// (tensor.bytes_per_row() bytes).
void copy_row_bytes(const TensorView& tensor, int64_t r, uint8_t* out);

}  // namespace loupe
