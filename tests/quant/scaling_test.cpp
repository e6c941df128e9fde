// Per-channel scaling: the dc and SmoothQuant scale formulas on known values, their guards
// (dead channels, clamping, bad alpha), and that folding s keeps X W^T unchanged.
#include "quant/scaling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace dcllm {
namespace {

TEST(ScaleMethod, ParsesTheCliNames) {
  EXPECT_EQ(*parse_scale_method("dc"), ScaleMethod::kDc);
  EXPECT_EQ(*parse_scale_method("smoothquant"), ScaleMethod::kSmoothQuant);
  EXPECT_EQ(*parse_scale_method("none"), ScaleMethod::kNone);
  EXPECT_EQ(*parse_scale_method("rms"), ScaleMethod::kRms);
  for (ScaleMethod m :
       {ScaleMethod::kDc, ScaleMethod::kRms, ScaleMethod::kSmoothQuant, ScaleMethod::kNone})
    EXPECT_EQ(*parse_scale_method(scale_method_name(m)), m);
  auto bad = parse_scale_method("DC");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "unknown scale method 'DC' (expected dc, rms, smoothquant or none)");
  EXPECT_FALSE(parse_scale_method("").ok());
}

TEST(ScaleAlpha, OutOfRangeValuesAreRejected) {
  EXPECT_TRUE(validate_alpha(ScaleMethod::kDc, 0.0).ok());
  EXPECT_TRUE(validate_alpha(ScaleMethod::kDc, 0.5).ok());
  EXPECT_TRUE(validate_alpha(ScaleMethod::kDc, 1.5).ok());
  EXPECT_TRUE(validate_alpha(ScaleMethod::kSmoothQuant, 1.0).ok());
  const Status neg = validate_alpha(ScaleMethod::kDc, -0.1);
  EXPECT_EQ(neg.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(neg.message(), "alpha -0.1 is out of range (must be >= 0)");
  EXPECT_FALSE(validate_alpha(ScaleMethod::kDc, std::nan("")).ok());
  EXPECT_FALSE(validate_alpha(ScaleMethod::kDc, std::numeric_limits<double>::infinity()).ok());
  EXPECT_FALSE(validate_alpha(ScaleMethod::kSmoothQuant, 1.01).ok());
  EXPECT_FALSE(validate_alpha(ScaleMethod::kNone, -1.0).ok());
  const std::vector<float> m = {1.0f};
  EXPECT_FALSE(compression_aware_scale(m, -0.5).ok());
  EXPECT_FALSE(smoothquant_scale(m, m, 2.0).ok());
}

TEST(CompressionAwareScale, IsMaxToTheAlpha) {
  const std::vector<float> max_abs = {4.0f, 9.0f, 0.0f, 1.0f, 0.25f};
  auto s = compression_aware_scale(max_abs, 0.5);
  ASSERT_TRUE(s.ok());
  EXPECT_FLOAT_EQ((*s)[0], 2.0f);
  EXPECT_FLOAT_EQ((*s)[1], 3.0f);
  EXPECT_EQ((*s)[2], 1.0f);  // a dead channel keeps its weights
  EXPECT_FLOAT_EQ((*s)[3], 1.0f);
  EXPECT_FLOAT_EQ((*s)[4], 0.5f);

  auto one = compression_aware_scale(max_abs, 1.0);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)[1], 9.0f);
  auto zero = compression_aware_scale(max_abs, 0.0);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, std::vector<float>(5, 1.0f));

  CalibrationStats stats;
  const std::vector<float> x = {4.0f, -9.0f, 0.0f, 1.0f, 0.25f};
  ASSERT_TRUE(stats.observe(x.data(), 1, 5).ok());
  EXPECT_EQ(*compression_aware_scale(stats, 0.5), *s);
}

TEST(CompressionAwareScale, ClampsExtremeScales) {
  const std::vector<float> max_abs = {1e12f, 1e-12f};
  auto s = compression_aware_scale(max_abs, 1.0);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)[0], kMaxInputScale);
  EXPECT_EQ((*s)[1], kMinInputScale);
}

TEST(CompressionAwareScale, RejectsNegativeOrNonFiniteMaxima) {
  EXPECT_FALSE(compression_aware_scale(std::vector<float>{1.0f, -1.0f}, 0.5).ok());
  EXPECT_FALSE(compression_aware_scale(std::vector<float>{std::nanf("")}, 0.5).ok());
  EXPECT_FALSE(
      compression_aware_scale(std::vector<float>{std::numeric_limits<float>::infinity()}, 0.5)
          .ok());
}

TEST(SmoothQuantScale, BalancesActivationAgainstWeight) {
  const std::vector<float> act = {4.0f, 16.0f, 0.0f, 9.0f};
  const std::vector<float> w = {1.0f, 4.0f, 2.0f, 0.0f};
  auto s = smoothquant_scale(act, w, 0.5);
  ASSERT_TRUE(s.ok());
  EXPECT_FLOAT_EQ((*s)[0], 2.0f);  // sqrt(4) / sqrt(1)
  EXPECT_FLOAT_EQ((*s)[1], 2.0f);  // sqrt(16) / sqrt(4)
  EXPECT_EQ((*s)[2], 1.0f);        // dead activation channel
  EXPECT_EQ((*s)[3], 1.0f);        // all-zero weight column
  auto a1 = smoothquant_scale(act, w, 1.0);
  ASSERT_TRUE(a1.ok());
  EXPECT_FLOAT_EQ((*a1)[1], 16.0f);  // alpha 1: the weight plays no part
  auto a0 = smoothquant_scale(act, w, 0.0);
  ASSERT_TRUE(a0.ok());
  EXPECT_FLOAT_EQ((*a0)[1], 0.25f);  // alpha 0: 1 / max|W|
  EXPECT_FALSE(smoothquant_scale(act, std::vector<float>{1.0f}, 0.5).ok());
  EXPECT_FALSE(smoothquant_scale(act, std::vector<float>{1, -1, 1, 1}, 0.5).ok());
}

TEST(InputScale, DispatchesByMethod) {
  CalibrationStats stats;
  const std::vector<float> x = {4.0f, 16.0f};
  ASSERT_TRUE(stats.observe(x.data(), 1, 2).ok());
  const std::vector<float> w = {1.0f, 4.0f};
  EXPECT_EQ(*input_scale(ScaleMethod::kNone, stats, {}, 0.5), std::vector<float>(2, 1.0f));
  EXPECT_EQ(*input_scale(ScaleMethod::kDc, stats, {}, 0.5), (std::vector<float>{2.0f, 4.0f}));
  EXPECT_EQ(*input_scale(ScaleMethod::kSmoothQuant, stats, w, 0.5),
            (std::vector<float>{2.0f, 2.0f}));
  EXPECT_FALSE(input_scale(ScaleMethod::kNone, stats, {}, -1.0).ok());
}

TEST(InputScale, RmsUsesTheChannelsRootMeanSquare) {
  CalibrationStats stats;
  // Channel 0 sees 3 and 4 (rms sqrt(12.5), max 4); channel 1 only zeros (scale 1).
  const std::vector<float> x = {3.0f, 0.0f, -4.0f, 0.0f};
  ASSERT_TRUE(stats.observe(x.data(), 2, 2).ok());
  auto s = input_scale(ScaleMethod::kRms, stats, {}, 1.0);
  ASSERT_TRUE(s.ok());
  EXPECT_FLOAT_EQ((*s)[0], std::sqrt(12.5f));
  EXPECT_EQ((*s)[1], 1.0f);
  auto half = input_scale(ScaleMethod::kRms, stats, {}, 0.5);
  ASSERT_TRUE(half.ok());
  EXPECT_FLOAT_EQ((*half)[0], std::pow(12.5f, 0.25f));
  EXPECT_FALSE(input_scale(ScaleMethod::kRms, stats, {}, -1.0).ok());
}

TEST(ColumnAbsmax, RunsOverEveryMatrixSharingTheInput) {
  const std::vector<float> q = {1.0f,  -5.0f, 2.0f,  //
                                -3.0f, 0.5f,  0.0f};
  const std::vector<float> k = {0.0f, 4.0f, -7.0f};
  const std::vector<ConstMatrixView> mats = {{q, 2, 3}, {k, 1, 3}};
  auto m = column_absmax(mats);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, (std::vector<float>{3.0f, 5.0f, 7.0f}));

  const std::vector<float> odd = {1.0f, 2.0f};
  const std::vector<ConstMatrixView> mismatch = {{q, 2, 3}, {odd, 1, 2}};
  EXPECT_FALSE(column_absmax(mismatch).ok());
  const std::vector<ConstMatrixView> short_data = {{k, 2, 3}};
  EXPECT_FALSE(column_absmax(short_data).ok());
  EXPECT_TRUE(column_absmax({})->empty());

  const std::vector<float> with_nan = {std::nanf(""), std::numeric_limits<float>::infinity(), 2.0f};
  const std::vector<ConstMatrixView> nonfinite = {{with_nan, 1, 3}};
  EXPECT_EQ(*column_absmax(nonfinite), (std::vector<float>{0.0f, 0.0f, 2.0f}));
}

TEST(ApplyInputScale, MultipliesColumnsAndFoldsRows) {
  std::vector<float> w = {1.0f, 2.0f, 3.0f,  //
                          4.0f, 5.0f, 6.0f};
  const std::vector<float> s = {2.0f, 0.5f, 10.0f};
  ASSERT_TRUE(apply_input_scale(w, 2, 3, s).ok());
  EXPECT_EQ(w, (std::vector<float>{2.0f, 1.0f, 30.0f, 8.0f, 2.5f, 60.0f}));
  ASSERT_TRUE(apply_inverse_scale_to_columns(w, 2, 3, s).ok());
  EXPECT_EQ(w, (std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}));
  // The producer of a 3-wide input: 3 output rows of width 2, each divided by its s.
  std::vector<float> p = {2.0f, 4.0f, 1.0f, 1.0f, 10.0f, 20.0f};
  ASSERT_TRUE(fold_inverse_scale_into_rows(p, 3, 2, s).ok());
  EXPECT_EQ(p, (std::vector<float>{1.0f, 2.0f, 2.0f, 2.0f, 1.0f, 2.0f}));

  EXPECT_FALSE(apply_input_scale(w, 3, 3, s).ok());                             // size
  EXPECT_FALSE(apply_input_scale(w, 3, 2, s).ok());                             // s length
  EXPECT_FALSE(apply_input_scale(w, 2, 3, std::vector<float>{1, 0, 1}).ok());   // zero scale
  EXPECT_FALSE(apply_input_scale(w, 2, 3, std::vector<float>{1, -1, 1}).ok());  // negative
  EXPECT_FALSE(fold_inverse_scale_into_rows(p, 2, 3, s).ok());                  // s per row
}

// Eq. 2's invariance: with X [T, K] (a few outlier channels) and W [N, K], the relative
// Frobenius distance between X W^T and (X/s)(W s)^T (both in double) stays at float rounding.
TEST(ApplyInputScale, KeepsTheLayerOutputUnchanged) {
  const size_t t = 32, k = 64, n = 24;
  std::mt19937 rng(7);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> x(t * k), w(n * k);
  for (float& v : x) v = gauss(rng);
  for (size_t r = 0; r < t; ++r)
    for (size_t j : {3, 17, 40}) x[r * k + j] *= 60.0f;  // outlier channels
  for (float& v : w) v = 0.02f * gauss(rng);
  CalibrationStats stats;
  ASSERT_TRUE(stats.observe(x.data(), t, k).ok());

  auto product = [&](const std::vector<float>& a, const std::vector<float>& b) {
    std::vector<double> y(t * n);
    for (size_t r = 0; r < t; ++r)
      for (size_t o = 0; o < n; ++o) {
        double acc = 0;
        for (size_t j = 0; j < k; ++j) acc += double{a[r * k + j]} * b[o * k + j];
        y[r * n + o] = acc;
      }
    return y;
  };
  const std::vector<double> ref = product(x, w);
  for (double alpha : {0.0, 0.5, 0.85, 1.0}) {
    for (ScaleMethod method : {ScaleMethod::kDc, ScaleMethod::kSmoothQuant}) {
      const std::vector<ConstMatrixView> mats = {{w, n, k}};
      auto wmax = column_absmax(mats);
      ASSERT_TRUE(wmax.ok());
      auto s = input_scale(method, stats, *wmax, alpha);
      ASSERT_TRUE(s.ok());
      std::vector<float> xs = x, ws = w;
      ASSERT_TRUE(apply_inverse_scale_to_columns(xs, t, k, *s).ok());
      ASSERT_TRUE(apply_input_scale(ws, n, k, *s).ok());
      const std::vector<double> got = product(xs, ws);
      double err = 0, norm = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        err += (got[i] - ref[i]) * (got[i] - ref[i]);
        norm += ref[i] * ref[i];
      }
      EXPECT_LT(std::sqrt(err / norm), 1e-6) << scale_method_name(method) << " alpha " << alpha;
    }
  }
}

}  // namespace
}  // namespace dcllm
