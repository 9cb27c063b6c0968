// The element- and row-wise steps that a prompt spreads over the thread pool give every
// value the bits of one plain call, with any number of threads: rmsnorm_rows against
// rmsnorm row by row, swiglu in pieces against the vector kernel in one call.
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <vector>

#include "kernels/dispatch.h"
#include "kernels/thread_pool.h"

#include "test_support.h"

namespace loupe {
namespace {

using test::random_normal;

TEST(OpsTest, RmsnormRowsGivesEachRowTheBitsOfRmsnorm) {
  const int dim = 96;
  for (int n_rows : {1, 7, 8, 9, 100}) {
    const std::vector<float> x = random_normal(size_t(n_rows * dim), 3), weight = random_normal(dim, 4);
    std::vector<float> expected(x.size());
    for (int r = 0; r < n_rows; ++r) rmsnorm(expected.data() + r * dim, x.data() + r * dim, weight.data(), dim, 1e-5f);
    for (int threads : {1, 2, 3}) {
      set_thread_count(threads);
      std::vector<float> out(x.size(), -1.0f);
      rmsnorm_rows(out.data(), x.data(), weight.data(), n_rows, dim, 1e-5f);
      EXPECT_EQ(out, expected) << "rows=" << n_rows << " threads=" << threads;
    }
  }
  set_thread_count(1);
}

TEST(OpsTest, SwigluInPiecesGivesTheBitsOfOneVectorCall) {
  // Sizes around the pool's piece (64 values x 256) and not a multiple of any vector width.
  for (int n : {5, 1536, 16384, 16385, 128 * 1536 + 3}) {
    const std::vector<float> gate = random_normal(size_t(n), 5), up = random_normal(size_t(n), 6);
    std::vector<float> expected = gate;
    vector_kernels().swiglu(expected.data(), up.data(), n);
    for (int threads : {1, 2, 3}) {
      set_thread_count(threads);
      std::vector<float> out = gate;
      swiglu(out.data(), up.data(), n);
      EXPECT_EQ(out, expected) << "n=" << n << " threads=" << threads;
    }
  }
  set_thread_count(1);
}

}  // namespace
}  // namespace loupe
