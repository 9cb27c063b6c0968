// The f32 products of kernels/gemm_f32.h against a plain double-precision loop, in every
// instruction-set build this CPU runs, on sizes with tails; and the same bits with 1 and
// 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/gemm_f32.h"
#include "kernels/thread_pool.h"

namespace loupe {
namespace {

std::vector<float> random_floats(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(rng);
  return values;
}

struct Shape {
  int n, m, k;
};
const Shape kShapes[] = {{1, 1, 1}, {3, 5, 7}, {17, 65, 33}, {64, 130, 96}, {9, 257, 131}};

// c[i][j] (+)= sum_l A(i,l) B(l,j) with element accessors, in double.
template <class A, class B>
std::vector<double> reference(int rows, int cols, int inner, A a, B b, const std::vector<float>& start) {
  std::vector<double> c(start.begin(), start.end());
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      double sum = 0;
      for (int l = 0; l < inner; ++l) sum += double(a(i, l)) * double(b(l, j));
      c[size_t(i) * cols + j] += sum;
    }
  return c;
}

void expect_near_all(const std::vector<float>& got, const std::vector<double>& want, int inner) {
  ASSERT_EQ(got.size(), want.size());
  const double tolerance = 1e-5 * std::sqrt(double(inner)) + 1e-6;
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tolerance) << "element " << i;
}

std::vector<KernelIsa> cpu_isas() {
  std::vector<KernelIsa> isas;
  for (KernelIsa isa : {KernelIsa::Scalar, KernelIsa::Avx2, KernelIsa::Avx512, KernelIsa::Simd128})
    if (kernel_isa_supported(isa)) isas.push_back(isa);
  return isas;
}

TEST(GemmF32, AllThreeProductsMatchPlainLoopsInEveryBuild) {
  const KernelIsa best = kernel_isa();
  for (KernelIsa isa : cpu_isas()) {
    ASSERT_TRUE(set_kernel_isa(isa));
    SCOPED_TRACE(kernel_isa_name(isa));
    for (const Shape& s : kShapes) {
      SCOPED_TRACE(testing::Message() << "n " << s.n << " m " << s.m << " k " << s.k);
      // c (n x m) = a (n x k) . b (m x k)^T
      const std::vector<float> a = random_floats(size_t(s.n) * s.k, 1), b = random_floats(size_t(s.m) * s.k, 2);
      std::vector<float> c(size_t(s.n) * s.m, 7.0f);
      gemm_f32_a_bt(c.data(), a.data(), b.data(), s.n, s.k, s.m, false);
      expect_near_all(c, reference(s.n, s.m, s.k, [&](int i, int l) { return a[size_t(i) * s.k + l]; },
                                   [&](int l, int j) { return b[size_t(j) * s.k + l]; },
                                   std::vector<float>(c.size(), 0.0f)), s.k);
      const std::vector<float> before = c;
      gemm_f32_a_bt(c.data(), a.data(), b.data(), s.n, s.k, s.m, true);
      for (size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], 2 * before[i], 1e-4);

      // c (n x k) += a (n x m) . b (m x k)
      const std::vector<float> d = random_floats(size_t(s.n) * s.m, 3), w = random_floats(size_t(s.m) * s.k, 4);
      std::vector<float> start = random_floats(size_t(s.n) * s.k, 5), din = start;
      gemm_f32_a_b_add(din.data(), d.data(), w.data(), s.n, s.m, s.k);
      expect_near_all(din, reference(s.n, s.k, s.m, [&](int i, int l) { return d[size_t(i) * s.m + l]; },
                                     [&](int l, int j) { return w[size_t(l) * s.k + j]; }, start), s.m);

      // c (m x k) += a (n x m)^T . b (n x k)
      const std::vector<float> x = random_floats(size_t(s.n) * s.k, 6);
      start = random_floats(size_t(s.m) * s.k, 7);
      std::vector<float> dw = start;
      gemm_f32_at_b_add(dw.data(), d.data(), x.data(), s.n, s.m, s.k);
      expect_near_all(dw, reference(s.m, s.k, s.n, [&](int i, int l) { return d[size_t(l) * s.m + i]; },
                                    [&](int l, int j) { return x[size_t(l) * s.k + j]; }, start), s.n);
    }
  }
  set_kernel_isa(best);
}

TEST(GemmF32, SameBitsWithOneAndTwoThreads) {
  const int n = 40, m = 300, k = 200;
  const std::vector<float> a = random_floats(size_t(n) * k, 8), b = random_floats(size_t(m) * k, 9),
                           d = random_floats(size_t(n) * m, 10);
  std::vector<float> results[2][3];
  for (int threads : {1, 2}) {
    set_thread_count(threads);
    std::vector<float>* r = results[threads - 1];
    r[0].assign(size_t(n) * m, 0.0f);
    gemm_f32_a_bt(r[0].data(), a.data(), b.data(), n, k, m, false);
    r[1].assign(size_t(n) * k, 0.5f);
    gemm_f32_a_b_add(r[1].data(), d.data(), b.data(), n, m, k);
    r[2].assign(size_t(m) * k, 0.25f);
    gemm_f32_at_b_add(r[2].data(), d.data(), a.data(), n, m, k);
  }
  set_thread_count(1);
  for (int product = 0; product < 3; ++product) EXPECT_EQ(results[0][product], results[1][product]) << product;
}

}  // namespace
}  // namespace loupe
