// The f32 block products of kernels/gemm_f32.h in the baseline build (SSE2 natively,
// SIMD128 where Eigen has it in wasm): the fallback on every CPU.
#include "kernels/gemm_f32.h"

#define LOUPE_GEMM_NAME gemm_f32_generic_kernels
#define LOUPE_GEMM_EIGEN_NAMESPACE loupe_eigen_generic
#include "kernels/gemm_f32_variant.inc"
