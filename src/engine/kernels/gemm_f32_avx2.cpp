// The f32 block products of kernels/gemm_f32.h built for AVX2 + FMA (CMakeLists.txt sets
// this file's flags). Called only on CPUs that have them.
#include "kernels/gemm_f32.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && !defined(__EMSCRIPTEN__)
#define LOUPE_GEMM_NAME gemm_f32_avx2_kernels
#define LOUPE_GEMM_EIGEN_NAMESPACE loupe_eigen_avx2
#include "kernels/gemm_f32_variant.inc"
#else
const loupe::GemmF32Kernels* loupe::gemm_f32_avx2_kernels() { return nullptr; }
#endif
