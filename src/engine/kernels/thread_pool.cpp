// Persistent worker pool. A job is published by bumping an atomic job number; workers
// spin on it for a short while (low wake-up latency between the many short matrix
// products of one token), then sleep on a condition variable. Every thread, the caller
// included, claims chunks from one atomic counter tagged with the job number, so a chunk
// is never claimed twice nor by a thread that woke up after its job was over.
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
// About 100 microseconds of spinning before a worker sleeps; the caller, waiting for the
// last chunks, yields its core after a shorter spin.
constexpr int kSpinsBeforeSleep = 20000;
constexpr int kSpinsBeforeYield = 2000;
// One chunk per thread: each thread streams one contiguous range of a matrix, which the
// hardware prefetcher follows from start to end. Four chunks per thread (each a new
// stream, claimed in turns) generated 5-35% fewer tokens/s with 2 threads here (medians
// of 5 alternating runs per type, docs/performance.md). A late thread still delays
// nothing: the others claim its chunk.
constexpr int kChunksPerThread = 1;
// True on a thread that works on a job of any pool: a loop nested inside a job runs
// inline, so two jobs never share one pool (the trainer's shards each call the engine's
// pool through the matrix products) and a pool never waits on itself.
thread_local bool t_in_job = false;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  n_threads_ = 1;  // the single-thread web build has no threads: run every job inline
#endif
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

// The claim word: job number (32 bits) | the job's chunk count (16) | next unclaimed
// chunk (16). The count travels in the same word as the claim: a thread that read the
// word while the job was current compares against that job's count, never against a
// count the caller is already writing for the next job (with job_chunks_ read apart, a
// late thread could claim chunk `count` of a finished job and run it on the next one).
constexpr uint64_t claim_word(uint64_t job, int64_t chunks, int64_t next) {
  return (job & 0xffffffffu) << 32 | uint64_t(chunks) << 16 | uint64_t(next);
}

void ThreadPool::run_chunks(uint64_t job) {
  for (;;) {
    uint64_t claim = next_chunk_.load(std::memory_order_acquire);
    int64_t chunk, chunks;
    do {
      if ((claim >> 32) != (job & 0xffffffffu)) return;  // a later job: this one is over
      chunks = int64_t((claim >> 16) & 0xffffu);
      chunk = int64_t(claim & 0xffffu);
      if (chunk >= chunks) return;
    } while (!next_chunk_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel));
    // Claimed: the job cannot end (nor its fields change) before this chunk is done.
    const int64_t begin = job_size_ * chunk / chunks, end = job_size_ * (chunk + 1) / chunks;
    if (begin < end) (*job_fn_)(begin, end);
    done_chunks_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                              int64_t grain) {
  if (n <= 0) return;
  const int64_t chunks = std::min<int64_t>({int64_t(n_threads_) * kChunksPerThread, int64_t(0xffff),
                                            std::max<int64_t>(1, n / std::max<int64_t>(1, grain))});
  if (chunks <= 1 || n_threads_ == 1 || t_in_job) {
    fn(0, n);
    return;
  }
  t_in_job = true;
  const uint64_t job = job_number_.load(std::memory_order_relaxed) + 1;
  job_fn_ = &fn;
  job_size_ = n;
  done_chunks_.store(0, std::memory_order_relaxed);
  next_chunk_.store(claim_word(job, chunks, 0), std::memory_order_release);
  {
    // Publishing under the lock means a worker about to sleep either sees the new job in
    // its wait predicate or gets the notification.
    std::lock_guard<std::mutex> lock(mutex_);
    job_number_.store(job, std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
  run_chunks(job);
  int spins = 0;
  while (done_chunks_.load(std::memory_order_acquire) < chunks) {
    if (++spins < kSpinsBeforeYield) {
      LOUPE_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  t_in_job = false;
}

void ThreadPool::worker_loop() {
  t_in_job = true;  // a worker runs nothing but jobs
  uint64_t seen = 0;
  for (;;) {
    uint64_t now = job_number_.load(std::memory_order_acquire);
    for (int spins = 0; now == seen && spins < kSpinsBeforeSleep; ++spins) {
      if (stopping_.load(std::memory_order_relaxed)) return;
      LOUPE_CPU_RELAX();
      now = job_number_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1, std::memory_order_acq_rel);
      wake_.wait(lock, [&] {
        return stopping_.load(std::memory_order_relaxed) || job_number_.load(std::memory_order_acquire) != seen;
      });
      sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      if (stopping_.load(std::memory_order_relaxed)) return;
      now = job_number_.load(std::memory_order_acquire);
    }
    seen = now;
    run_chunks(now);
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
