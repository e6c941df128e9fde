// parallel_for over a persistent pool of spin-then-wait workers with an atomic work counter.
// One token of generation makes ~200 calls, so starting threads per call cost more than the work.
#include "core/parallel.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DCLLM_CPU_RELAX() _mm_pause()
#else
#define DCLLM_CPU_RELAX() std::this_thread::yield()
#endif

namespace dcllm {
namespace {

// Spin iterations before a worker (or the caller) sleeps on a condition variable: ~tens of
// microseconds, about the gap between two linears of one token. Beyond that sleeping is cheaper
// than keeping a core busy, which matters when the machine is shared.
constexpr int kSpinIterations = 4000;
constexpr size_t kMaxThreads = 256;  // the job word has 16 bits for the worker count

void run_items(std::atomic<size_t>& next, size_t n, const std::function<void(size_t)>& fn) {
  for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) fn(i);
}

// Workers wait for a new job generation; the caller takes part in every job and returns once
// every worker that joined it is done. One job at a time: a second caller (another thread, or
// fn itself calling parallel_for) finds the pool busy and starts threads of its own instead.
class ThreadPool {
 public:
  // False if the pool is busy; otherwise runs the job on the caller and threads - 1 workers.
  bool try_run(size_t n, unsigned threads, const std::function<void(size_t)>& fn) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    const unsigned helpers = threads - 1;
    while (workers_.size() < helpers) {
      const unsigned id = static_cast<unsigned>(workers_.size());
      // The job word as it is before this job: a worker that starts late must still see it.
      const uint64_t before = job_.load(std::memory_order_relaxed);
      workers_.emplace_back([this, id, before] { worker_loop(id, before); });
      workers_.back().detach();
    }
    fn_ = &fn;
    n_ = n;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(helpers, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(m_);
      const uint64_t g = (job_.load(std::memory_order_relaxed) >> 16) + 1;
      job_.store(g << 16 | helpers, std::memory_order_release);
    }
    start_.notify_all();
    run_items(next_, n, fn);
    for (int i = 0; i < kSpinIterations && pending_.load(std::memory_order_acquire) != 0; ++i)
      DCLLM_CPU_RELAX();
    if (pending_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lk(m_);
      done_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    return true;
  }

 private:
  void worker_loop(unsigned id, uint64_t seen) {
    for (;;) {
      uint64_t job = job_.load(std::memory_order_acquire);
      for (int i = 0; i < kSpinIterations && job == seen; ++i) {
        DCLLM_CPU_RELAX();
        job = job_.load(std::memory_order_acquire);
      }
      if (job == seen) {
        std::unique_lock<std::mutex> lk(m_);
        start_.wait(lk, [&] { return job_.load(std::memory_order_acquire) != seen; });
        job = job_.load(std::memory_order_acquire);
      }
      seen = job;
      // Generation and worker count come from one load, so a worker that wakes late for a job
      // it was not part of never mistakes the next job's count for its own.
      if (id >= (job & 0xFFFF)) continue;
      run_items(next_, n_, *fn_);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lk(m_);  // pairs with the caller's predicate check
        done_.notify_one();
      }
    }
  }

  std::mutex run_mutex_;  // held by the caller for the whole job
  std::mutex m_;          // guards sleeping on start_ / done_
  std::condition_variable start_, done_;
  // generation << 16 | workers taking part (0..count-1); bumped under m_ to start a job.
  std::atomic<uint64_t> job_{0};
  // The current job; written by the caller before job_ is stored (release).
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<unsigned> pending_{0};  // workers of the current job not yet done
  std::vector<std::thread> workers_;
};

ThreadPool* g_pool = nullptr;
std::once_flag g_pool_once;

ThreadPool& pool() {
  std::call_once(g_pool_once, [] {
    // A forked child has none of the parent's workers: it gets a fresh pool. The old one is
    // left as it is (its mutexes may be held by threads that do not exist in the child).
    pthread_atfork(nullptr, nullptr, [] { g_pool = new ThreadPool(); });
    g_pool = new ThreadPool();
  });
  return *g_pool;
}

// The fallback when the pool is busy: threads of its own for this one call.
void run_on_new_threads(size_t n, unsigned threads, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (unsigned t = 1; t < threads; ++t) helpers.emplace_back([&] { run_items(next, n, fn); });
  run_items(next, n, fn);
  for (auto& t : helpers) t.join();
}

}  // namespace

unsigned default_thread_count() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)>& fn) {
  if (threads == 0) threads = default_thread_count();
  threads = static_cast<unsigned>(std::min<size_t>({threads, n, kMaxThreads}));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  if (!pool().try_run(n, threads, fn)) run_on_new_threads(n, threads, fn);
}

}  // namespace dcllm
