// Threads and instruction-set choice for the f32 products of kernels/gemm_f32.h.
#include "kernels/gemm_f32.h"

#include <algorithm>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/thread_pool.h"

namespace loupe {
namespace {

// Columns (or rows) per block: wide enough that Eigen's packing is a small share of the
// work, narrow enough that two threads get several blocks of a 256-wide layer.
constexpr int kBlock = 64;

const GemmF32Kernels& kernels() { return gemm_f32_kernels(); }

int blocks(int size) { return (size + kBlock - 1) / kBlock; }

}  // namespace

const GemmF32Kernels& gemm_f32_kernels() {
  const KernelIsa isa = kernel_isa();
  if (isa == KernelIsa::Avx512 && gemm_f32_avx512_kernels()) return *gemm_f32_avx512_kernels();
  if ((isa == KernelIsa::Avx512 || isa == KernelIsa::Avx2) && gemm_f32_avx2_kernels()) return *gemm_f32_avx2_kernels();
  return *gemm_f32_generic_kernels();
}

void gemm_f32_a_bt(float* c, const float* a, const float* b, int n, int k, int m, bool accumulate) {
  if (n <= 0 || m <= 0) return;
  const GemmF32Kernels& kernel = kernels();
  thread_pool().parallel_for(blocks(m), [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block) {
      const int col = int(block) * kBlock, cols = std::min(kBlock, m - col);
      kernel.a_bt(c + col, m, a, k, b + int64_t(col) * k, k, n, k, cols, accumulate);
    }
  });
}

void gemm_f32_a_b_add(float* c, const float* a, const float* b, int n, int m, int k) {
  if (n <= 0 || k <= 0) return;
  const GemmF32Kernels& kernel = kernels();
  thread_pool().parallel_for(blocks(k), [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block) {
      const int col = int(block) * kBlock, cols = std::min(kBlock, k - col);
      kernel.a_b_add(c + col, k, a, m, b + col, k, n, m, cols);
    }
  });
}

void gemm_f32_at_b_add(float* c, const float* a, const float* b, int n, int m, int k) {
  if (m <= 0 || k <= 0) return;
  const GemmF32Kernels& kernel = kernels();
  thread_pool().parallel_for(blocks(m), [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block) {
      const int row = int(block) * kBlock, rows = std::min(kBlock, m - row);
      kernel.at_b_add(c + int64_t(row) * k, k, a + row, m, b, k, n, rows, k);
    }
  });
}

}  // namespace loupe
