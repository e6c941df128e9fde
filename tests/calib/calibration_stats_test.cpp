// CalibrationStats: the per-channel statistics on known inputs, streaming in pieces, merging,
// skipping non-finite values, rescaling by 1/s and the JSON round trip with its validation.
#include "calib/calibration_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace dcllm {
namespace {

std::vector<float> random_matrix(size_t rows, size_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<float> x(rows * cols);
  for (float& v : x) v = u(rng);
  return x;
}

TEST(CalibrationStats, KnownSmallExample) {
  // Three tokens, two channels.
  const std::vector<float> x = {1.0f,  -2.0f,  //
                                -3.0f, 0.0f,   //
                                2.0f,  2.0f};
  CalibrationStats s(2);
  ASSERT_TRUE(s.observe(x.data(), 3, 2).ok());
  EXPECT_EQ(s.tokens(), 3u);
  EXPECT_EQ(s.nonfinite(), 0u);
  EXPECT_EQ(s.max_abs()[0], 3.0f);
  EXPECT_EQ(s.max_abs()[1], 2.0f);
  EXPECT_FLOAT_EQ(s.mean_abs()[0], 2.0f);         // (1 + 3 + 2) / 3
  EXPECT_FLOAT_EQ(s.mean_abs()[1], 4.0f / 3.0f);  // (2 + 0 + 2) / 3
  EXPECT_FLOAT_EQ(s.l2_norm()[0], std::sqrt(14.0f));
  EXPECT_FLOAT_EQ(s.l2_norm()[1], std::sqrt(8.0f));
}

TEST(CalibrationStats, EmptyStatsHaveZeroMeans) {
  CalibrationStats s(3);
  EXPECT_EQ(s.tokens(), 0u);
  EXPECT_EQ(s.mean_abs(), std::vector<float>(3, 0.0f));
  EXPECT_EQ(s.l2_norm(), std::vector<float>(3, 0.0f));
  ASSERT_TRUE(s.observe(nullptr, 0, 3).ok());
  EXPECT_EQ(s.tokens(), 0u);
}

TEST(CalibrationStats, StreamingInPiecesEqualsOneBatchExactly) {
  const size_t rows = 257, cols = 19;
  const std::vector<float> x = random_matrix(rows, cols, 1);
  CalibrationStats whole;
  ASSERT_TRUE(whole.observe(x.data(), rows, cols).ok());
  CalibrationStats pieces;
  for (size_t r = 0, step = 1; r < rows; r += step, step = step % 7 + 1) {
    const size_t n = std::min(step, rows - r);
    ASSERT_TRUE(pieces.observe(x.data() + r * cols, n, cols).ok());
  }
  // Rows are added in the same order either way, so the sums agree bit for bit.
  EXPECT_EQ(pieces.tokens(), whole.tokens());
  EXPECT_TRUE(
      std::equal(pieces.max_abs().begin(), pieces.max_abs().end(), whole.max_abs().begin()));
  EXPECT_TRUE(
      std::equal(pieces.sum_abs().begin(), pieces.sum_abs().end(), whole.sum_abs().begin()));
  EXPECT_TRUE(std::equal(pieces.sum_sq().begin(), pieces.sum_sq().end(), whole.sum_sq().begin()));
}

TEST(CalibrationStats, MergeEqualsObservingBoth) {
  const size_t cols = 11;
  const std::vector<float> a = random_matrix(40, cols, 2), b = random_matrix(25, cols, 3);
  CalibrationStats sa, sb, both;
  ASSERT_TRUE(sa.observe(a.data(), 40, cols).ok());
  ASSERT_TRUE(sb.observe(b.data(), 25, cols).ok());
  ASSERT_TRUE(both.observe(a.data(), 40, cols).ok());
  ASSERT_TRUE(both.observe(b.data(), 25, cols).ok());
  ASSERT_TRUE(sa.merge(sb).ok());
  EXPECT_EQ(sa.tokens(), 65u);
  for (size_t j = 0; j < cols; ++j) {
    EXPECT_EQ(sa.max_abs()[j], both.max_abs()[j]);
    EXPECT_NEAR(sa.sum_abs()[j], both.sum_abs()[j], 1e-12 * both.sum_abs()[j]);
    EXPECT_NEAR(sa.sum_sq()[j], both.sum_sq()[j], 1e-12 * both.sum_sq()[j]);
  }
  // Merging into or from empty stats adopts / keeps the other side.
  CalibrationStats empty;
  ASSERT_TRUE(empty.merge(sb).ok());
  EXPECT_EQ(empty.channels(), cols);
  EXPECT_EQ(empty.tokens(), 25u);
  ASSERT_TRUE(sb.merge(CalibrationStats()).ok());
  EXPECT_EQ(sb.tokens(), 25u);
}

TEST(CalibrationStats, WidthMismatchIsAnError) {
  CalibrationStats s;  // takes its width from the first input
  const std::vector<float> x(12, 1.0f);
  ASSERT_TRUE(s.observe(x.data(), 3, 4).ok());
  EXPECT_EQ(s.channels(), 4u);
  const Status st = s.observe(x.data(), 2, 6);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("6 channels"), std::string::npos) << st.message();
  EXPECT_EQ(s.tokens(), 3u);  // the failed call changed nothing
  CalibrationStats other(5);
  EXPECT_FALSE(s.merge(other).ok());
  CalibrationStats fixed(4);
  EXPECT_FALSE(fixed.observe(nullptr, 1, 4).ok());
}

TEST(CalibrationStats, NonFiniteValuesAreSkippedAndCounted) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {1.0f,  std::nanf(""), -inf, 2.0f,  //
                                -4.0f, 3.0f,          0.5f, inf};
  CalibrationStats s(4);
  ASSERT_TRUE(s.observe(x.data(), 2, 4).ok());
  EXPECT_EQ(s.nonfinite(), 3u);
  EXPECT_EQ(s.max_abs()[0], 4.0f);
  EXPECT_EQ(s.max_abs()[1], 3.0f);
  EXPECT_EQ(s.max_abs()[2], 0.5f);
  EXPECT_EQ(s.max_abs()[3], 2.0f);
  for (size_t j = 0; j < 4; ++j) {
    EXPECT_TRUE(std::isfinite(s.sum_abs()[j]));
    EXPECT_TRUE(std::isfinite(s.sum_sq()[j]));
  }
  EXPECT_DOUBLE_EQ(s.sum_sq()[0], 17.0);
}

TEST(CalibrationStats, LongStreamsKeepTheirPrecision) {
  // 2^21 tokens of 0.1: a float running sum would be off by percents; double stays exact to
  // about 1e-10 relative.
  const size_t cols = 4, rows = size_t{1} << 14;
  const std::vector<float> x(rows * cols, 0.1f);
  CalibrationStats s(cols);
  for (int rep = 0; rep < 128; ++rep) ASSERT_TRUE(s.observe(x.data(), rows, cols).ok());
  EXPECT_EQ(s.tokens(), rows * 128);
  const double expected = static_cast<double>(0.1f);
  EXPECT_NEAR(s.sum_abs()[0] / static_cast<double>(s.tokens()), expected, 1e-10 * expected);
  EXPECT_NEAR(s.l2_norm()[2], std::sqrt(static_cast<double>(s.tokens())) * expected,
              1e-6 * std::sqrt(static_cast<double>(s.tokens())) * expected);
}

TEST(CalibrationStats, DividedByScaleMatchesObservingScaledInput) {
  const size_t rows = 30, cols = 6;
  std::vector<float> x = random_matrix(rows, cols, 4);
  const std::vector<float> scale = {1.0f, 2.0f, 0.5f, 4.0f, 3.0f, 0.25f};
  CalibrationStats s;
  ASSERT_TRUE(s.observe(x.data(), rows, cols).ok());
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < cols; ++j) x[r * cols + j] /= scale[j];
  CalibrationStats direct;
  ASSERT_TRUE(direct.observe(x.data(), rows, cols).ok());
  auto divided = s.divided_by_scale(scale);
  ASSERT_TRUE(divided.ok()) << divided.status().message();
  for (size_t j = 0; j < cols; ++j) {
    EXPECT_FLOAT_EQ(divided->max_abs()[j], direct.max_abs()[j]);
    EXPECT_NEAR(divided->sum_abs()[j], direct.sum_abs()[j], 1e-6 * direct.sum_abs()[j]);
    EXPECT_NEAR(divided->sum_sq()[j], direct.sum_sq()[j], 1e-6 * direct.sum_sq()[j]);
  }
  EXPECT_EQ(divided->tokens(), s.tokens());
  EXPECT_FALSE(s.divided_by_scale(std::vector<float>(5, 1.0f)).ok());
  std::vector<float> bad = scale;
  bad[2] = 0.0f;
  EXPECT_FALSE(s.divided_by_scale(bad).ok());
  bad[2] = std::nanf("");
  EXPECT_FALSE(s.divided_by_scale(bad).ok());
}

TEST(CalibrationStats, JsonRoundTripIsExact) {
  const std::vector<float> x = random_matrix(33, 7, 5);
  CalibrationStats s;
  ASSERT_TRUE(s.observe(x.data(), 33, 7).ok());
  const std::vector<float> nan_row = {std::nanf(""), 0, 0, 0, 0, 0, 0};
  ASSERT_TRUE(s.observe(nan_row.data(), 1, 7).ok());
  // Through text, as the container stores it.
  const std::string text = s.to_json().dump();
  auto back = CalibrationStats::from_json(nlohmann::json::parse(text));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->channels(), 7u);
  EXPECT_EQ(back->tokens(), 34u);
  EXPECT_EQ(back->nonfinite(), 1u);
  for (size_t j = 0; j < 7; ++j) {
    EXPECT_EQ(back->max_abs()[j], s.max_abs()[j]);
    EXPECT_EQ(back->sum_abs()[j], s.sum_abs()[j]);
    EXPECT_EQ(back->sum_sq()[j], s.sum_sq()[j]);
  }
}

TEST(CalibrationStats, FromJsonRejectsMalformedInput) {
  CalibrationStats s(3);
  const std::vector<float> x = {1, 2, 3};
  ASSERT_TRUE(s.observe(x.data(), 1, 3).ok());
  const nlohmann::json good = s.to_json();
  ASSERT_TRUE(CalibrationStats::from_json(good).ok());

  auto expect_rejected = [](const nlohmann::json& j, const char* why) {
    auto r = CalibrationStats::from_json(j);
    EXPECT_FALSE(r.ok()) << why;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << why;
    }
  };
  expect_rejected(nlohmann::json::array(), "not an object");
  for (const char* key : {"channels", "tokens", "nonfinite", "max_abs", "sum_abs", "sum_sq"}) {
    nlohmann::json j = good;
    j.erase(key);
    expect_rejected(j, key);
  }
  nlohmann::json j = good;
  j["channels"] = 1000000000000ull;  // arrays hold 3: must not allocate for the claim
  expect_rejected(j, "channel count larger than the arrays");
  j = good;
  j["channels"] = -3;
  expect_rejected(j, "negative channel count");
  j = good;
  j["tokens"] = 1.5;
  expect_rejected(j, "fractional token count");
  j = good;
  j["max_abs"][1] = -1.0;
  expect_rejected(j, "negative max");
  j = good;
  j["sum_sq"][0] = "x";
  expect_rejected(j, "string in an array");
  j = good;
  j["max_abs"][2] = 1e300;
  expect_rejected(j, "max beyond float");
  j = good;
  j["sum_abs"] = 3;
  expect_rejected(j, "number instead of array");
}

}  // namespace
}  // namespace dcllm
