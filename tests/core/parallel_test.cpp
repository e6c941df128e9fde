// Smoke test of the core helpers until each stage brings its own tests.
#include <gtest/gtest.h>

#include <atomic>

#include "core/parallel.h"

TEST(Parallel, VisitsEveryIndexOnce) {
  std::atomic<int> sum{0};
  dcllm::parallel_for(1000, 2, [&](size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum.load(), 999 * 1000 / 2);
}
