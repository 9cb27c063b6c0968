// The f32 block products of kernels/gemm_f32.h built for AVX-512 (CMakeLists.txt sets
// this file's flags). Called only on CPUs that have it.
#include "kernels/gemm_f32.h"

#if defined(__x86_64__) && defined(__AVX512F__) && !defined(__EMSCRIPTEN__)
#define LOUPE_GEMM_NAME gemm_f32_avx512_kernels
#define LOUPE_GEMM_EIGEN_NAMESPACE loupe_eigen_avx512
#include "kernels/gemm_f32_variant.inc"
#else
const loupe::GemmF32Kernels* loupe::gemm_f32_avx512_kernels() { return nullptr; }
#endif
