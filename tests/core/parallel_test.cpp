// parallel_for on its persistent pool: every index exactly once, for back-to-back calls of any
// thread count, nested calls, concurrent callers, and in a forked child.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/parallel.h"

namespace {

// Counts visits per index; true when each of [0, n) was visited exactly once.
bool visits_each_once(size_t n, unsigned threads) {
  std::vector<std::atomic<int>> seen(n);
  dcllm::parallel_for(n, threads, [&](size_t i) { seen[i].fetch_add(1); });
  for (auto& s : seen)
    if (s.load() != 1) return false;
  return true;
}

TEST(Parallel, VisitsEveryIndexOnce) {
  std::atomic<int> sum{0};
  dcllm::parallel_for(1000, 2, [&](size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum.load(), 999 * 1000 / 2);
}

TEST(Parallel, ManyBackToBackCallsOfEveryThreadCount) {
  // Thousands of short jobs, as a token's ~200 linears make: a lost wake-up or a worker that
  // joins the wrong job shows up as a hang or a missed/double visit.
  for (int round = 0; round < 3000; ++round) {
    const unsigned threads = 1 + round % 6;
    const size_t n = static_cast<size_t>(round % 7);  // 0..6 items, fewer than threads at times
    ASSERT_TRUE(visits_each_once(n, threads)) << "round " << round;
  }
  EXPECT_TRUE(visits_each_once(100000, 0));
}

TEST(Parallel, NestedCallsRunOnThreadsOfTheirOwn) {
  std::atomic<int> total{0};
  dcllm::parallel_for(
      8, 2, [&](size_t) { dcllm::parallel_for(10, 2, [&](size_t) { total.fetch_add(1); }); });
  EXPECT_EQ(total.load(), 80);
}

TEST(Parallel, ConcurrentCallersEachGetTheirOwnItems) {
  std::atomic<bool> ok{true};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int r = 0; r < 300; ++r)
        if (!visits_each_once(37, 2)) ok = false;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_TRUE(ok.load());
}

TEST(Parallel, WorksInAForkedChild) {
  ASSERT_TRUE(visits_each_once(64, 2));  // the parent's pool has workers now
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(30);  // a child waiting on the parent's workers would hang: fail instead
    _exit(visits_each_once(64, 2) && visits_each_once(1000, 3) ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
