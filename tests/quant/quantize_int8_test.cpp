// Symmetric per-tensor INT8 quantization: the scale, rounding, clamping and the odd inputs
// (all zeros, non-finite values) that must not poison a whole tensor.
#include "quant/quantize_int8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace dcllm {
namespace {

TEST(QuantizeInt8PerTensor, ScaleIsMaxAbsOver127) {
  const std::vector<float> w = {0.5f, -2.54f, 1.0f, 0.0f};
  std::vector<int8_t> q(w.size());
  const float scale = quantize_int8_per_tensor(w, q);
  EXPECT_FLOAT_EQ(scale, 2.54f / 127.0f);
  EXPECT_EQ(q[1], -127);  // the extreme maps to the end of the range
  EXPECT_EQ(q[0], 25);    // 0.5 / 0.02 = 25
  EXPECT_EQ(q[2], 50);
  EXPECT_EQ(q[3], 0);
}

TEST(QuantizeInt8PerTensor, RoundsToNearestAndIsSymmetric) {
  // scale = 1: levels are the weights rounded; ties go to even.
  const std::vector<float> w = {127.0f, 3.4f, 3.6f, -3.4f, -3.6f, 2.5f, -2.5f, 0.49f};
  std::vector<int8_t> q(w.size());
  EXPECT_FLOAT_EQ(quantize_int8_per_tensor(w, q), 1.0f);
  EXPECT_EQ(q, (std::vector<int8_t>{127, 3, 4, -3, -4, 2, -2, 0}));
}

TEST(QuantizeInt8PerTensor, ReconstructionErrorIsAtMostHalfAStep) {
  std::vector<float> w(1000);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i)) * 0.03f;
  std::vector<int8_t> q(w.size());
  const float scale = quantize_int8_per_tensor(w, q);
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_LE(std::fabs(w[i] - q[i] * scale), 0.5f * scale * 1.0001f) << i;
    EXPECT_GE(q[i], -127);
  }
}

TEST(QuantizeInt8PerTensor, AllZerosHaveScaleOne) {
  const std::vector<float> w(17, 0.0f);
  std::vector<int8_t> q(w.size(), 99);
  EXPECT_EQ(quantize_int8_per_tensor(w, q), 1.0f);
  EXPECT_EQ(q, std::vector<int8_t>(17, 0));
  std::vector<int8_t> none;
  EXPECT_EQ(quantize_int8_per_tensor({}, none), 1.0f);
}

TEST(QuantizeInt8PerTensor, NonFiniteValuesDoNotSetTheScale) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> w = {1.27f, std::nanf(""), inf, -inf, -0.01f};
  std::vector<int8_t> q(w.size());
  EXPECT_FLOAT_EQ(quantize_int8_per_tensor(w, q), 0.01f);
  EXPECT_EQ(q, (std::vector<int8_t>{127, 0, 127, -127, -1}));
}

TEST(QuantizeInt8PerTensor, TinyMagnitudesStillUseTheFullRange) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  const std::vector<float> w = {1000 * tiny, -250 * tiny};  // float32 subnormals
  std::vector<int8_t> q(w.size());
  quantize_int8_per_tensor(w, q);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], -32);  // -31.75
}

}  // namespace
}  // namespace dcllm
