// Sampler: greedy is argmax; sampling is reproducible from the seed and follows softmax(l/T)
// closely enough over many draws to tell a wrong temperature or distribution apart.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/sampler.h"

namespace dcllm {
namespace {

TEST(Sampler, GreedyIsArgmaxFirstOnTies) {
  const std::vector<float> l = {0.1f, 3.0f, -1.0f, 3.0f};
  Sampler s(0.0f, 1);
  EXPECT_EQ(s.sample(l), 1);
  EXPECT_EQ(argmax(l), 1);
}

TEST(Sampler, SeededDrawsRepeatAndFollowTheDistribution) {
  const std::vector<float> l = {std::log(0.7f), std::log(0.2f), std::log(0.1f)};
  Sampler a(1.0f, 123), b(1.0f, 123), c(1.0f, 124);
  std::vector<int> counts(3, 0);
  bool differs = false;
  for (int i = 0; i < 20000; ++i) {
    const int32_t x = a.sample(l);
    ASSERT_EQ(x, b.sample(l));
    differs |= x != c.sample(l);
    ++counts[static_cast<size_t>(x)];
  }
  EXPECT_TRUE(differs);
  EXPECT_NEAR(counts[0] / 20000.0, 0.7, 0.02);
  EXPECT_NEAR(counts[1] / 20000.0, 0.2, 0.02);
  EXPECT_NEAR(counts[2] / 20000.0, 0.1, 0.02);
}

TEST(Sampler, LowTemperatureSharpens) {
  const std::vector<float> l = {1.0f, 0.0f};
  Sampler s(0.05f, 9);
  int first = 0;
  for (int i = 0; i < 1000; ++i) first += s.sample(l) == 0;
  EXPECT_GT(first, 995);
}

}  // namespace
}  // namespace dcllm
