// RMSNorm, softmax, SwiGLU and RoPE (both pair layouts) against their definitions,
// with values worked out by hand from the formulas.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/ops.h"

namespace dcllm {
namespace {

TEST(Ops, RmsNorm) {
  const float x[4] = {1, -2, 3, -4}, w[4] = {1, 1, 2, 0.5f};
  float o[4];
  rmsnorm(o, x, w, 4, 0.0f);
  const float rms = std::sqrt((1 + 4 + 9 + 16) / 4.0f);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(o[i], w[i] * x[i] / rms, 1e-6f);
}

TEST(Ops, SoftmaxIsStableAndNormalized) {
  float x[3] = {1000.0f, 1001.0f, 999.0f};
  softmax(x, 3);
  EXPECT_NEAR(x[0] + x[1] + x[2], 1.0f, 1e-6f);
  EXPECT_NEAR(x[1] / x[0], std::exp(1.0f), 1e-4f);
}

TEST(Ops, SwiGlu) {
  float g[2] = {0.0f, 2.0f};
  const float u[2] = {5.0f, 3.0f};
  swiglu(g, u, 2);
  EXPECT_EQ(g[0], 0.0f);
  EXPECT_NEAR(g[1], 2.0f / (1.0f + std::exp(-2.0f)) * 3.0f, 1e-6f);
}

TEST(Ops, RopePairLayouts) {
  // head_dim 4: pairs rotate by pos * theta^(-0/4) and pos * theta^(-2/4).
  const float theta = 100.0f;
  const float a0 = 3.0f * 1.0f, a1 = 3.0f * std::pow(theta, -0.5f);
  RopeTable inter(8, 4, theta, RopeStyle::kInterleaved, nullptr);
  float v[4] = {1, 0, 0, 1};
  inter.apply(v, 1, 3);
  EXPECT_NEAR(v[0], std::cos(a0), 1e-6f);
  EXPECT_NEAR(v[1], std::sin(a0), 1e-6f);
  EXPECT_NEAR(v[2], -std::sin(a1), 1e-6f);
  EXPECT_NEAR(v[3], std::cos(a1), 1e-6f);

  RopeTable neox(8, 4, theta, RopeStyle::kHalves, nullptr);
  float h[4] = {1, 0, 0, 1};  // pairs (0, 2) and (1, 3)
  neox.apply(h, 1, 3);
  EXPECT_NEAR(h[0], std::cos(a0), 1e-6f);
  EXPECT_NEAR(h[2], std::sin(a0), 1e-6f);
  EXPECT_NEAR(h[1], -std::sin(a1), 1e-6f);
  EXPECT_NEAR(h[3], std::cos(a1), 1e-6f);

  // Position 0 is the identity; frequency factors slow a pair down.
  float z[4] = {1, 2, 3, 4};
  inter.apply(z, 1, 0);
  EXPECT_EQ(z[2], 3.0f);
  const float factors[2] = {1.0f, 4.0f};
  RopeTable scaled(8, 4, theta, RopeStyle::kInterleaved, factors);
  float s[4] = {0, 0, 1, 0};
  scaled.apply(s, 1, 3);
  EXPECT_NEAR(s[2], std::cos(a1 / 4.0f), 1e-6f);
}

}  // namespace
}  // namespace dcllm
