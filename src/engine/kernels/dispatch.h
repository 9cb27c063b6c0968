// Which kernel runs for each tensor type, chosen once at start-up from what the CPU can
// do: AVX-512 (VNNI, BF16) > AVX2/FMA > scalar natively, SIMD128 in wasm. The scalar
// reference code of core/tensor_types.cpp is always the fallback, and the tests compare
// every fast kernel against it.
//
// Setting LOUPE_KERNELS=scalar|avx2|avx512|simd128 in the environment (or calling
// set_kernel_isa) picks a lower level, e.g. to test or measure the fallback.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor_types.h"
#include "kernels/packed.h"

namespace loupe {

enum class KernelIsa { Scalar, Avx2, Avx512, Simd128 };

const char* kernel_isa_name(KernelIsa isa);
// True if this build and this CPU can run `isa`.
bool kernel_isa_supported(KernelIsa isa);
// The level in use now (the best supported one, unless the environment or
// set_kernel_isa chose another).
KernelIsa kernel_isa();
// Switches every type to `isa`'s kernels; returns false (and changes nothing) when the
// CPU or build lacks it. Not while a forward pass runs.
bool set_kernel_isa(KernelIsa isa);

// Dots of tile_rows weight rows (row_bytes apart) with tile_cols activation rows in the
// partner type (act_bytes apart): out[c * out_stride + r] = row r . activation c.
using DotTileFn = void (*)(const uint8_t* rows, size_t row_bytes, const uint8_t* acts, size_t act_bytes,
                           int64_t n, float* out, size_t out_stride);

// The kernels for weights of one tensor type.
struct TypeKernels {
  TensorType partner = TensorType::F32;  // the type activations take (the table's dot_partner)
  FromFloatFn quantize = nullptr;        // f32 activations -> partner blocks, bytes as the reference writes them
  DotFn dot = nullptr;                   // one weight row . one partner row
  KernelIsa dot_isa = KernelIsa::Scalar; // what `dot` is, for reports
  DotTileFn tile = nullptr;              // optional, for several tokens at once
  int tile_rows = 0, tile_cols = 0;
  DotTileFn tile1 = nullptr;             // optional, tile1_rows rows x 1 token (generation)
  int tile1_rows = 0;
  // Tiles give each output the same bits as `dot` (tests check), so results never
  // depend on how a product was cut into tiles.

  // Packed weights (kernels/packed.h); null for types without a packed layout. The
  // scalar ones come from the packed table; instruction sets overlay faster ones.
  PackedQuantizeFn packed_quantize = nullptr;  // f32 -> packed partner rows
  PackedTileFn packed_tile = nullptr;          // groups of 16 packed rows x tokens
  PackedTailDotFn packed_tail_dot = nullptr;   // rows after the last whole group
  KernelIsa packed_isa = KernelIsa::Scalar;
};

// The kernels in use for `type` (throws loupe::Error for unsupported types).
const TypeKernels& type_kernels(TensorType type);

// The f32 vector steps of the forward pass besides the matrix products: attention's
// dots and weighted sums, softmax's exponentials, SwiGLU. kernels/ops.h calls them.
struct VectorKernels {
  float (*dot)(const float* a, const float* b, int n) = nullptr;          // sum of a[i] * b[i]
  void (*axpy)(float* y, float a, const float* x, int n) = nullptr;       // y += a * x
  // The same over `count` rows `row_stride` floats apart (attention's keys and values),
  // each with the bits of the single kernel: out[j] = a . row j; y += alphas[j] * row j,
  // j in order.
  void (*dots)(const float* a, const float* rows, size_t row_stride, int n, int count, float* out) = nullptr;
  void (*axpys)(float* y, const float* alphas, const float* rows, size_t row_stride, int n, int count) = nullptr;
  float (*exp_shifted)(float* x, int n, float shift) = nullptr;           // x = exp(x - shift); returns the sum
  void (*swiglu)(float* gate_inout, const float* up, int n) = nullptr;    // gate = silu(gate) * up
  KernelIsa isa = KernelIsa::Scalar;
};
const VectorKernels& vector_kernels();
// The plain versions (kernels/ops.cpp): the reference the others are tested against.
VectorKernels scalar_vector_kernels();

// Each instruction-set module overlays its kernels on the scalar table (kernels/*.cpp).
struct KernelTable {
  TypeKernels by_id[32];
  VectorKernels vector;
};
void install_avx2_kernels(KernelTable& table);
void install_avx512_kernels(KernelTable& table);
void install_simd128_kernels(KernelTable& table);

}  // namespace loupe
