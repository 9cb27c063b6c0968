// Matrix products: fast kernels against the scalar ones, the same bits with 1, 2 and 3
// threads, shared-input products equal to separate ones, and the thread pool under many
// small jobs.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <vector>

#include "core/tensor_types.h"
#include "kernels/dispatch.h"
#include "kernels/thread_pool.h"

#include "test_support.h"

namespace loupe {
namespace {

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
constexpr bool kThreads = false;
#else
constexpr bool kThreads = true;
#endif

using test::random_normal;
using Weight = test::RandomMatrix;

using MatmulTest = test::KernelSettingsTest;

const TensorType kTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                             TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                             TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

TEST_F(MatmulTest, FastMatchesScalar) {
  const KernelIsa best = kernel_isa();
  for (TensorType type : kTypes) {
    const int64_t cols = type_info(type).block_size == 256 ? 512 : 96;
    const int64_t rows = 37;  // not a multiple of the tile
    Weight w(type, cols, rows, 11);
    for (int n_tokens : {1, 2, 5, 17}) {
      const std::vector<float> in = random_normal(size_t(cols * n_tokens), 5);
      std::vector<float> fast(size_t(rows * n_tokens)), scalar(fast.size());
      ASSERT_TRUE(set_kernel_isa(KernelIsa::Scalar));
      matmul(w.view, in.data(), n_tokens, scalar.data());
      ASSERT_TRUE(set_kernel_isa(best));
      matmul(w.view, in.data(), n_tokens, fast.data());
      for (size_t i = 0; i < fast.size(); ++i)
        EXPECT_NEAR(fast[i], scalar[i], 1e-4 * (1 + std::fabs(scalar[i])))
            << type_info(type).name << " tokens=" << n_tokens << " i=" << i;
    }
  }
}

TEST_F(MatmulTest, SameBitsWithOneTwoAndThreeThreads) {
  for (TensorType type : kTypes) {
    const int64_t cols = type_info(type).block_size == 256 ? 256 : 64;
    Weight w(type, cols, 301, 3);
    for (int n_tokens : {1, 7}) {
      const std::vector<float> in = random_normal(size_t(cols * n_tokens), 9);
      std::vector<float> one(size_t(301 * n_tokens));
      set_thread_count(1);
      matmul(w.view, in.data(), n_tokens, one.data());
      for (int threads : {2, 3}) {
        set_thread_count(threads);
        std::vector<float> many(one.size());
        matmul(w.view, in.data(), n_tokens, many.data());
        EXPECT_EQ(many, one) << type_info(type).name << " threads=" << threads << " tokens=" << n_tokens;
      }
    }
  }
}

TEST_F(MatmulTest, SharedInputEqualsSeparateProducts) {
  set_thread_count(2);
  Weight a(TensorType::Q8_0, 128, 40, 1), b(TensorType::Q4_K, 256, 1, 2), c(TensorType::F16, 128, 17, 3);
  Weight b128(TensorType::Q4_0, 128, 23, 4);
  std::vector<float> bias_values = random_normal(23, 8);
  TensorView bias;
  bias.type = TensorType::F32;
  bias.shape = {23, 1, 1, 1};
  bias.data = reinterpret_cast<const uint8_t*>(bias_values.data());
  bias.bytes = 23 * 4;
  (void)b;
  for (int n_tokens : {1, 4}) {
    const std::vector<float> in = random_normal(size_t(128 * n_tokens), 6);
    std::vector<float> sa(size_t(40 * n_tokens)), sb(size_t(23 * n_tokens)), sc(size_t(17 * n_tokens));
    matmul(a.view, in.data(), n_tokens, sa.data());
    matmul_bias(b128.view, bias, in.data(), n_tokens, sb.data());
    matmul(c.view, in.data(), n_tokens, sc.data());
    std::vector<float> ta(sa.size()), tb(sb.size()), tc(sc.size());
    const MatmulTarget targets[] = {{&a.view, ta.data()}, {&b128.view, tb.data(), &bias}, {&c.view, tc.data()}};
    matmul_shared_input(targets, in.data(), n_tokens);
    EXPECT_EQ(ta, sa);
    EXPECT_EQ(tb, sb);
    EXPECT_EQ(tc, sc);
  }
}

TEST(ThreadPoolTest, ManySmallJobsCoverEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    set_thread_count(threads);
    ThreadPool& pool = thread_pool();
    EXPECT_EQ(pool.size(), kThreads ? threads : 1);
    std::vector<std::atomic<int>> hits(200);
    for (int job = 0; job < 1000; ++job) {
      const int64_t n = 1 + job % 200;
      for (int64_t i = 0; i < n; ++i) hits[size_t(i)].store(0);
      pool.parallel_for(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) hits[size_t(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "job " << job << " i=" << i;
    }
  }
  set_thread_count(1);
}

TEST(ThreadPoolTest, NestedLoopsRunInlineAndGrainLimitsChunks) {
  set_thread_count(kThreads ? 2 : 1);
  std::atomic<int64_t> total{0};
  thread_pool().parallel_for(8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      thread_pool().parallel_for(10, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
  });
  EXPECT_EQ(total.load(), 80);
  std::atomic<int> calls{0};
  thread_pool().parallel_for(5, [&](int64_t, int64_t) { calls.fetch_add(1); }, 16);
  EXPECT_EQ(calls.load(), 1);  // 5 items with grain 16: one chunk
  set_thread_count(1);
}

TEST(ThreadPoolTest, PoolsComeAndGoWhileIdle) {
  for (int round = 0; round < 20; ++round) {
    set_thread_count(1 + round % 3);
    std::atomic<int64_t> sum{0};
    thread_pool().parallel_for(1000, [&](int64_t b, int64_t e) {
      int64_t s = 0;
      for (int64_t i = b; i < e; ++i) s += i;
      sum.fetch_add(s);
    });
    EXPECT_EQ(sum.load(), 999 * 1000 / 2);
  }
  set_thread_count(1);
}

}  // namespace
}  // namespace loupe
