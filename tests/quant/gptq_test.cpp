// GPTQ rounding: the inverse factor is what it claims, the grid is round-to-nearest's, and on
// correlated inputs the layer's output error is well below round-to-nearest's.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "quant/gptq.h"
#include "quant/weight_quant.h"

namespace dcllm {
namespace {

// X [t, k]: a few shared factors plus noise, so that channels are strongly correlated, as
// transformer activations are; some channels 10x larger.
std::vector<float> correlated_inputs(size_t t, size_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  const size_t factors = 8;
  std::vector<float> mix(factors * k), x(t * k);
  for (auto& v : mix) v = d(rng);
  for (size_t i = 0; i < t; ++i) {
    float f[factors];
    for (auto& v : f) v = d(rng);
    for (size_t j = 0; j < k; ++j) {
      float v = 0.3f * d(rng);
      for (size_t a = 0; a < factors; ++a) v += f[a] * mix[a * k + j];
      x[i * k + j] = v * (j % 17 == 0 ? 10.0f : 1.0f);
    }
  }
  return x;
}

std::vector<float> gram_of(const std::vector<float>& x, size_t t, size_t k) {
  std::vector<float> g(k * k, 0.0f);
  for (size_t i = 0; i < t; ++i)
    for (size_t a = 0; a < k; ++a)
      for (size_t b = 0; b < k; ++b) g[a * k + b] += x[i * k + a] * x[i * k + b];
  return g;
}

double output_error(const std::vector<float>& x, size_t t, size_t k, const std::vector<float>& w,
                    const std::vector<float>& wq, size_t n) {
  double e = 0, ref = 0;
  for (size_t i = 0; i < t; ++i)
    for (size_t r = 0; r < n; ++r) {
      double a = 0, b = 0;
      for (size_t j = 0; j < k; ++j) {
        a += x[i * k + j] * w[r * k + j];
        b += x[i * k + j] * wq[r * k + j];
      }
      e += (a - b) * (a - b);
      ref += a * a;
    }
  return std::sqrt(e / ref);
}

TEST(Gptq, InverseFactorIsTheUpperCholeskyOfTheDampedInverse) {
  const size_t t = 64, k = 24;
  const auto x = correlated_inputs(t, k, 1);
  auto g = gram_of(x, t, k);
  g[5 * k + 5] = 0.0f;  // an unseen channel (its row and column are 0 here only on the diagonal)
  for (size_t j = 0; j < k; ++j) g[5 * k + j] = g[j * k + 5] = 0.0f;
  const double damp = 0.01;
  auto r = gptq_inverse_factor(g, k, damp, 1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  double mean = 0;
  for (size_t i = 0; i < k; ++i) mean += g[i * k + i];
  mean /= k;
  std::vector<double> h(k * k);
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j) h[i * k + j] = g[i * k + j];
  h[5 * k + 5] = 1.0;
  for (size_t i = 0; i < k; ++i) h[i * k + i] += damp * mean;
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < i; ++j) EXPECT_EQ((*r)[i * k + j], 0.0) << "upper triangular";
  // (R^T R) h = I.
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j) {
      double v = 0;
      for (size_t a = 0; a < k; ++a) {
        double rtr = 0;
        for (size_t b = 0; b < k; ++b) rtr += (*r)[b * k + i] * (*r)[b * k + a];
        v += rtr * h[a * k + j];
      }
      EXPECT_NEAR(v, i == j ? 1.0 : 0.0, 1e-6) << i << "," << j;
    }
}

TEST(Gptq, SameGridLowerOutputErrorThanNearest) {
  const size_t t = 512, k = 96, n = 40;
  const auto x = correlated_inputs(t, k, 2);
  const auto g = gram_of(x, t, k);
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> w(n * k);
  for (auto& v : w) v = d(rng);
  for (int levels : {127, 31, 7}) {
    SCOPED_TRACE(levels);
    const WeightQuantOptions wo{levels};
    Int8Layout per_row;
    per_row.scheme = QuantScheme::kPerChannel;
    auto rtn = quantize_weights_int8(w, n, k, per_row, wo);
    auto gq = quantize_weights_gptq(w, n, k, per_row, wo, g, GptqOptions{0.01, 2});
    ASSERT_TRUE(rtn.ok() && gq.ok());
    EXPECT_EQ(gq->scales, rtn->scales);  // the same grid
    for (int8_t v : gq->values) ASSERT_LE(std::abs(int{v}), levels);
    const double e_rtn = output_error(x, t, k, w, *dequantize_weights_int8(*rtn), n);
    const double e_gptq = output_error(x, t, k, w, *dequantize_weights_int8(*gq), n);
    EXPECT_LT(e_gptq, 0.7 * e_rtn) << e_gptq << " vs " << e_rtn;
  }
}

TEST(Gptq, WithoutStatisticsItIsNearest) {
  const size_t k = 50, n = 6;
  std::mt19937 rng(4);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> w(n * k);
  for (auto& v : w) v = d(rng);
  const std::vector<float> zero(k * k, 0.0f);  // no channel seen: no error is passed on
  Int8Layout group;
  group.scheme = QuantScheme::kGroup;
  group.group = 16;
  auto rtn = quantize_weights_int8(w, n, k, group);
  auto gq = quantize_weights_gptq(w, n, k, group, {}, zero, {});
  ASSERT_TRUE(rtn.ok() && gq.ok());
  EXPECT_EQ(gq->scales, rtn->scales);
  size_t same = 0;
  for (size_t i = 0; i < w.size(); ++i) same += gq->values[i] == rtn->values[i];
  EXPECT_GE(same, w.size() - 1);  // a tie may round differently through the float scale
}

TEST(Gptq, RejectsAGramOfTheWrongSize) {
  const std::vector<float> w(12, 0.5f), g(10, 1.0f);
  Int8Layout per_row;
  per_row.scheme = QuantScheme::kPerChannel;
  EXPECT_EQ(quantize_weights_gptq(w, 3, 4, per_row, {}, g, {}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dcllm
