// A persistent pool of worker threads for data-parallel loops. Workers are created once
// and wait between jobs, so a generated token costs no thread creation. Between jobs a
// worker spins briefly (a token's ~250 matrix products follow each other within
// microseconds) and then sleeps on a condition variable, so an idle pool costs nothing.
// With one thread (and in the single-thread web build) `parallel_for` runs inline, as
// does a loop nested in any pool's job.
//
// A job is cut into one contiguous chunk per thread, which threads claim as they come (so
// a worker the OS has not scheduled yet delays nothing: the others take its chunk). The
// chunks' ranges depend only on n and the thread count, never on timing; callers keep
// results independent of which thread runs a chunk.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace loupe {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Calls fn(begin, end) over [0, n) split into contiguous chunks; returns when all
  // chunks are done. `grain` is the smallest chunk worth a thread.
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn,
                    int64_t grain = 1);

 private:
  void worker_loop();
  // Claims and runs chunks of job `job` until none is left or a later job began.
  void run_chunks(uint64_t job);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  // The current job, stable while any of its chunks is unfinished.
  const std::function<void(int64_t, int64_t)>* job_fn_ = nullptr;
  int64_t job_size_ = 0;
  std::atomic<uint64_t> job_number_{0};  // bumped (release) once a job is published
  std::atomic<uint64_t> next_chunk_{0};  // job number << 32 | chunk count << 16 | next unclaimed chunk
  std::atomic<int64_t> done_chunks_{0};
  std::atomic<int> sleepers_{0};          // workers waiting on `wake_`
  std::atomic<bool> stopping_{false};
};

// The engine's shared pool. set_thread_count() replaces it (not while a forward pass runs).
ThreadPool& thread_pool();
void set_thread_count(int n_threads);
int default_thread_count();  // hardware threads, 1 in the single-thread web build

}  // namespace loupe
