// f32 matrix products for the paths that need gradients: training and attribution. All
// matrices are row-major; `ld*` are row strides in floats. Each product is cut into
// fixed-size column or row blocks that the thread pool shares out, so the result does
// not depend on the number of threads (a training run resumes to the same bits).
//
// The block products are Eigen's, compiled once per instruction set (gemm_f32_avx512.cpp,
// gemm_f32_avx2.cpp, gemm_f32_generic.cpp) and chosen at run time by kernel_isa(): Eigen
// picks its vector width when it is compiled, and the engine's baseline build is plain
// x86-64 so that it runs on any CPU.
#pragma once

namespace loupe {

// c (n x m) = a (n x k) . b (m x k)^T, or += with accumulate. The forward product of a
// layer: a holds one token per row, b one output's weights per row (as ggml stores them).
void gemm_f32_a_bt(float* c, const float* a, const float* b, int n, int k, int m, bool accumulate);
// c (n x k) += a (n x m) . b (m x k). The input gradient of a layer: d_in += d_out . W.
void gemm_f32_a_b_add(float* c, const float* a, const float* b, int n, int m, int k);
// c (m x k) += a (n x m)^T . b (n x k). The weight gradient: d_W += d_out^T . in.
void gemm_f32_at_b_add(float* c, const float* a, const float* b, int n, int m, int k);

// One block product of each kind, single-threaded, in one instruction set's build.
struct GemmF32Kernels {
  void (*a_bt)(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int n, int k, int m,
               bool accumulate);
  void (*a_b_add)(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int n, int m, int k);
  void (*at_b_add)(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int n, int m, int k);
};
// The block products the functions above run (the widest instruction set this CPU has),
// for callers that share out their own jobs, e.g. one attention head per job.
const GemmF32Kernels& gemm_f32_kernels();
// Null when this build has no such variant (e.g. the x86 ones in wasm).
const GemmF32Kernels* gemm_f32_generic_kernels();
const GemmF32Kernels* gemm_f32_avx2_kernels();
const GemmF32Kernels* gemm_f32_avx512_kernels();

}  // namespace loupe
