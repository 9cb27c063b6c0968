// Persistent worker pool. A job is published by bumping an atomic generation counter;
// workers spin on it for a short while (low wake-up latency between the many short
// matrix products of one token), then sleep on a condition variable. The caller runs
// chunk 0 itself and spins until the workers' chunks are done.
#include "kernels/thread_pool.h"

#include <algorithm>
#include <memory>

#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)
#include <immintrin.h>
#define LOUPE_CPU_RELAX() _mm_pause()
#else
#define LOUPE_CPU_RELAX() ((void)0)
#endif

namespace loupe {

namespace {
// About 50-100 microseconds of spinning before a worker goes to sleep.
constexpr int kSpinsBeforeSleep = 20000;
constexpr int kSpinsBeforeYield = 2000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

static void run_chunk(const std::function<void(int64_t, int64_t)>& fn, int64_t n, int chunks,
                      int index) {
  int64_t begin = n * index / chunks, end = n * (index + 1) / chunks;
  if (begin < end) fn(begin, end);
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                              int64_t grain) {
  if (n <= 0) return;
  int chunks = int(std::min<int64_t>({n_threads_, 255, std::max<int64_t>(1, n / std::max<int64_t>(1, grain))}));
  if (chunks <= 1 || busy_) {
    fn(0, n);
    return;
  }
  busy_ = true;
  job_ = &fn;
  job_size_ = n;
  pending_.store(chunks - 1, std::memory_order_relaxed);
  {
    // Publishing under the lock means a worker that is about to sleep either sees the new
    // generation in its wait predicate or gets the notification.
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t job_number = (generation_.load(std::memory_order_relaxed) >> 8) + 1;
    generation_.store((job_number << 8) | uint64_t(chunks), std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
  run_chunk(fn, n, chunks, 0);
  int spins = 0;
  while (pending_.load(std::memory_order_acquire) > 0) {
    if (++spins < kSpinsBeforeYield) {
      LOUPE_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  busy_ = false;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin briefly for the next job, then sleep.
    uint64_t now = generation_.load(std::memory_order_acquire);
    for (int spins = 0; now == seen && spins < kSpinsBeforeSleep; ++spins) {
      if (stopping_.load(std::memory_order_relaxed)) return;
      LOUPE_CPU_RELAX();
      now = generation_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1, std::memory_order_acq_rel);
      wake_.wait(lock, [&] {
        return stopping_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_acquire) != seen;
      });
      sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      if (stopping_.load(std::memory_order_relaxed)) return;
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    const int chunks = int(now & 255);
    if (index < chunks) {  // the caller waits for us, so the job stays as published
      run_chunk(*job_, job_size_, chunks, index);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

static std::unique_ptr<ThreadPool>& pool_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}

int default_thread_count() {
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  return 1;
#else
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int(n);
#endif
}

ThreadPool& thread_pool() {
  auto& pool = pool_slot();
  if (!pool) pool = std::make_unique<ThreadPool>(1);
  return *pool;
}

void set_thread_count(int n_threads) {
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  n_threads = 1;
#endif
  auto& pool = pool_slot();
  if (pool && pool->size() == n_threads) return;
  pool = std::make_unique<ThreadPool>(n_threads);
}

}  // namespace loupe
