// The paper's claim behind eq. 1, checked on a synthetic layer: with outlier activation
// channels, a larger alpha makes the per-tensor INT8 weights less entropic (more compressible).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "calib/calibration_stats.h"
#include "dcllm/rans.h"
#include "quant/scaling.h"
#include "quant/weight_quant.h"

namespace dcllm {
namespace {

// Box-Muller over mt19937 (whose output the standard fixes), so the layer is the same with
// every standard library.
class Gaussian {
 public:
  explicit Gaussian(uint32_t seed) : rng_(seed) {}
  float operator()() {
    const double u1 = (static_cast<double>(rng_()) + 1.0) / 4294967297.0;
    const double u2 = static_cast<double>(rng_()) / 4294967296.0;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }

 private:
  std::mt19937 rng_;
};

struct SyntheticLayer {
  size_t tokens = 512, in = 1024, out = 1024;
  std::vector<float> x, w;
};

// Gaussian weights (sigma 0.02, as in initialised LLM layers) and Gaussian activations in which
// 1% of the channels carry outliers 20-80x larger, the pattern LLM activations show.
SyntheticLayer make_layer() {
  SyntheticLayer l;
  Gaussian g(2025);
  l.x.resize(l.tokens * l.in);
  l.w.resize(l.out * l.in);
  for (float& v : l.w) v = 0.02f * g();
  std::vector<float> channel_gain(l.in, 1.0f);
  for (size_t j = 7; j < l.in; j += 97) channel_gain[j] = 20.0f + 6.0f * static_cast<float>(j % 11);
  for (size_t t = 0; t < l.tokens; ++t)
    for (size_t j = 0; j < l.in; ++j) l.x[t * l.in + j] = channel_gain[j] * g();
  return l;
}

double int8_entropy(const Int8Matrix& m) {
  return order0_entropy_bits({reinterpret_cast<const uint8_t*>(m.values.data()), m.values.size()});
}

// Order-0 entropy (bits per weight) of the weights scaled by `method` at `alpha`, quantized
// with `scheme`.
double scaled_entropy(const SyntheticLayer& l, const CalibrationStats& stats, ScaleMethod method,
                      double alpha, const Int8Layout& scheme) {
  const std::vector<ConstMatrixView> mats = {{l.w, l.out, l.in}};
  auto wmax = column_absmax(mats);
  EXPECT_TRUE(wmax.ok());
  auto s = input_scale(method, stats, *wmax, alpha);
  EXPECT_TRUE(s.ok());
  std::vector<float> w = l.w;
  EXPECT_TRUE(apply_input_scale(w, l.out, l.in, *s).ok());
  auto q = quantize_weights_int8(w, l.out, l.in, scheme);
  EXPECT_TRUE(q.ok());
  return int8_entropy(*q);
}

TEST(CompressionAwareScaling, LargerAlphaLowersPerTensorInt8Entropy) {
  const SyntheticLayer l = make_layer();
  CalibrationStats stats;
  ASSERT_TRUE(stats.observe(l.x.data(), l.tokens, l.in).ok());
  const Int8Layout per_tensor{};
  const std::vector<double> alphas = {0.0, 0.25, 0.5, 0.75, 0.9, 1.0};
  std::vector<double> h;
  for (double a : alphas) h.push_back(scaled_entropy(l, stats, ScaleMethod::kDc, a, per_tensor));
  for (size_t i = 0; i < alphas.size(); ++i)
    std::printf("dc alpha %.2f: per-tensor INT8 order-0 entropy %.3f bits/weight\n", alphas[i],
                h[i]);
  for (size_t i = 1; i < h.size(); ++i)
    EXPECT_LT(h[i], h[i - 1]) << "alpha " << alphas[i - 1] << " -> " << alphas[i];
  // At the default alpha the gain is large, not a rounding effect.
  EXPECT_LT(h[2], h[0] - 1.0);
}

}  // namespace
}  // namespace dcllm
