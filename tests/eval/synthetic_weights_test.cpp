// Synthetic INT8 weights: reproducible, sized as asked, independent of tensor scheduling, and
// shaped as promised (outlier share, pruned zeros, peaked histograms).
#include "eval/synthetic_weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "dcllm/rans.h"

namespace dcllm {
namespace {

std::vector<uint8_t> make(SyntheticKind kind, size_t bytes, size_t tensor_elems,
                          uint64_t seed = kSyntheticSeed) {
  auto r = make_synthetic_int8(kind, bytes, tensor_elems, seed);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::vector<uint8_t>{};
}

double fraction(std::span<const uint8_t> bytes, bool (*pred)(int8_t)) {
  const auto n = std::count_if(bytes.begin(), bytes.end(),
                               [&](uint8_t b) { return pred(static_cast<int8_t>(b)); });
  return static_cast<double>(n) / static_cast<double>(bytes.size());
}

TEST(SyntheticWeights, NamesRoundTrip) {
  for (const std::string& name : synthetic_kind_names()) {
    auto kind = parse_synthetic_kind(name);
    ASSERT_TRUE(kind.ok()) << name;
    EXPECT_EQ(synthetic_kind_name(*kind), name);
  }
  EXPECT_EQ(synthetic_kind_names().size(), 3u);
  EXPECT_EQ(parse_synthetic_kind("gauss").status().code(), StatusCode::kInvalidArgument);
}

TEST(SyntheticWeights, DeterministicAndSeedDependent) {
  for (const std::string& name : synthetic_kind_names()) {
    const SyntheticKind kind = *parse_synthetic_kind(name);
    const auto a = make(kind, 300001, 65536);
    EXPECT_EQ(a.size(), 300001u);
    EXPECT_EQ(a, make(kind, 300001, 65536)) << name;
    EXPECT_NE(a, make(kind, 300001, 65536, kSyntheticSeed + 1)) << name;
  }
}

TEST(SyntheticWeights, TensorsDoNotDependOnTotalSize) {
  // Tensor i is a function of (seed, i) only, so a longer run extends a shorter one.
  const auto short_run = make(SyntheticKind::kGaussOutlier, 2 * 50000, 50000);
  const auto long_run = make(SyntheticKind::kGaussOutlier, 5 * 50000 + 7, 50000);
  ASSERT_EQ(long_run.size(), 250007u);
  EXPECT_TRUE(std::equal(short_run.begin(), short_run.end(), long_run.begin()));
}

TEST(SyntheticWeights, EveryTensorSpansTheInt8Range) {
  for (const std::string& name : synthetic_kind_names()) {
    const SyntheticKind kind = *parse_synthetic_kind(name);
    const auto bytes = make(kind, 4 * 100000, 100000);
    for (size_t t = 0; t < 4; ++t) {
      const auto* begin = bytes.data() + t * 100000;
      const int max_abs = std::abs(
          static_cast<int8_t>(*std::max_element(begin, begin + 100000, [](uint8_t a, uint8_t b) {
            return std::abs(static_cast<int8_t>(a)) < std::abs(static_cast<int8_t>(b));
          })));
      EXPECT_EQ(max_abs, 127) << name << " tensor " << t;
      EXPECT_EQ(std::count(begin, begin + 100000, uint8_t{0x80}), 0) << "-128 is never used";
    }
  }
}

TEST(SyntheticWeights, GaussOutlierHasRareFarOutliersAndAPeakedHistogram) {
  const auto bytes = make(SyntheticKind::kGaussOutlier, 1 << 21, 1 << 19);
  // Outliers sit at 10-20 sigma and set the scale; the body stays below ~6 sigma = 40 levels.
  const double outliers = fraction(bytes, [](int8_t q) { return std::abs(q) >= 50; });
  EXPECT_GT(outliers, 0.0008);
  EXPECT_LT(outliers, 0.0055);
  const double entropy = order0_entropy_bits(bytes);
  EXPECT_GT(entropy, 3.5);
  EXPECT_LT(entropy, 5.5);
}

TEST(SyntheticWeights, PrunedZeroesAtLeastFortyPercent) {
  const auto bytes = make(SyntheticKind::kPruned, 1 << 20, 1 << 18);
  const double zeros = fraction(bytes, [](int8_t q) { return q == 0; });
  EXPECT_GE(zeros, 0.40);
  EXPECT_LT(zeros, 0.50);  // the survivors are the large magnitudes, rarely rounded to 0
  EXPECT_LT(order0_entropy_bits(bytes),
            order0_entropy_bits(make(SyntheticKind::kGaussOutlier, 1 << 20, 1 << 18)));
}

TEST(SyntheticWeights, LaplaceIsWiderThanGaussOutlier) {
  const double laplace = order0_entropy_bits(make(SyntheticKind::kLaplace, 1 << 20, 1 << 18));
  EXPECT_GT(laplace, 5.0);
  EXPECT_LT(laplace, 6.5);
}

TEST(SyntheticWeights, RejectsZeroTensorSize) {
  EXPECT_EQ(make_synthetic_int8(SyntheticKind::kLaplace, 10, 0).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dcllm
