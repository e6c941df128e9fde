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

// Counts of 20000 draws from l under `o`.
std::vector<int> draw_counts(const std::vector<float>& l, SamplerOptions o,
                             std::span<const int32_t> recent = {}) {
  Sampler s(o);
  std::vector<int> counts(l.size(), 0);
  for (int i = 0; i < 20000; ++i) ++counts[static_cast<size_t>(s.sample(l, recent))];
  return counts;
}

TEST(Sampler, TopKKeepsTheKMostLikely) {
  const std::vector<float> l = {std::log(0.1f), std::log(0.5f), std::log(0.15f), std::log(0.25f)};
  auto c = draw_counts(l, {.temperature = 1.0f, .top_k = 2, .seed = 5});
  EXPECT_EQ(c[0], 0);
  EXPECT_EQ(c[2], 0);
  EXPECT_NEAR(c[1] / 20000.0, 0.5 / 0.75, 0.02);  // renormalised over the two kept
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  const std::vector<float> l = {std::log(0.1f), std::log(0.5f), std::log(0.15f), std::log(0.25f)};
  // 0.5 + 0.25 = 0.75 >= 0.7: tokens 1 and 3 only.
  auto c = draw_counts(l, {.temperature = 1.0f, .top_p = 0.7f, .seed = 6});
  EXPECT_EQ(c[0] + c[2], 0);
  EXPECT_NEAR(c[3] / 20000.0, 0.25 / 0.75, 0.02);
}

TEST(Sampler, MinPDropsTokensFarBelowTheTop) {
  const std::vector<float> l = {std::log(0.1f), std::log(0.5f), std::log(0.15f), std::log(0.25f)};
  // min_p 0.4: keep p >= 0.2, i.e. tokens 1 and 3.
  auto c = draw_counts(l, {.temperature = 1.0f, .min_p = 0.4f, .seed = 7});
  EXPECT_EQ(c[0] + c[2], 0);
  EXPECT_GT(c[1], 0);
  EXPECT_GT(c[3], 0);
}

// A vocabulary far larger than the sorted head: draws reach deep into the tail (sorted on
// demand), and equal logits still rank by id, so top-p 0.5 of 300 equal tokens keeps 0..149.
TEST(Sampler, LargeVocabulariesDrawFromTheWholeTailInOrder) {
  std::vector<float> flat(300, 0.5f);
  auto all = draw_counts(flat, {.temperature = 1.0f, .seed = 8});
  int beyond_head = 0;
  for (size_t i = 64; i < all.size(); ++i) beyond_head += all[i];
  EXPECT_NEAR(beyond_head / 20000.0, 236.0 / 300.0, 0.02);
  auto half = draw_counts(flat, {.temperature = 1.0f, .top_p = 0.5f, .seed = 9});
  int low = 0, high = 0;
  for (size_t i = 0; i < half.size(); ++i) (i < 150 ? low : high) += half[i];
  EXPECT_EQ(high, 0);
  EXPECT_GT(half[149], 0);
  // Distinct logits, the best ones scattered: the top 3 of 5000 are drawn in proportion.
  std::vector<float> l(5000, -30.0f);
  l[4321] = std::log(0.6f), l[17] = std::log(0.3f), l[2500] = std::log(0.1f);
  auto c = draw_counts(l, {.temperature = 1.0f, .top_k = 100, .seed = 10});
  EXPECT_NEAR(c[4321] / 20000.0, 0.6, 0.02);
  EXPECT_NEAR(c[17] / 20000.0, 0.3, 0.02);
  EXPECT_NEAR(c[2500] / 20000.0, 0.1, 0.02);
}

TEST(Sampler, RepeatPenaltyDemotesRecentTokens) {
  const std::vector<float> l = {2.0f, 1.9f, -1.0f};
  const int32_t recent[] = {0, 0, 2};
  Sampler greedy({.repeat_penalty = 1.5f});
  EXPECT_EQ(greedy.sample(l, recent), 1);  // 2.0 / 1.5 < 1.9
  EXPECT_EQ(greedy.sample(l), 0);          // nothing recent: no penalty
  Sampler window({.repeat_penalty = 1.5f, .repeat_last_n = 1});
  EXPECT_EQ(window.sample(l, recent), 0);  // only token 2 is inside the window
}

}  // namespace
}  // namespace dcllm
