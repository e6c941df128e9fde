// fp16 and bf16 widening against values whose bit patterns are known by construction:
// normals, subnormals, signed zeros, infinities and NaN.
#include "core/float16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace dcllm {
namespace {

TEST(Float16, NormalValues) {
  EXPECT_EQ(fp16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_f32(0x3555), 0.333251953125f);  // nearest fp16 to 1/3
  EXPECT_EQ(fp16_to_f32(0x7bff), 65504.0f);         // largest finite fp16
  EXPECT_EQ(fp16_to_f32(0x0400), 0x1p-14f);         // smallest normal
}

TEST(Float16, SubnormalsAndZeros) {
  EXPECT_EQ(fp16_to_f32(0x0001), 0x1p-24f);  // smallest subnormal
  EXPECT_EQ(fp16_to_f32(0x03ff), 1023 * 0x1p-24f);
  EXPECT_EQ(fp16_to_f32(0x8001), -0x1p-24f);
  EXPECT_EQ(fp16_to_f32(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(fp16_to_f32(0x8000)));
}

TEST(Float16, InfinityAndNan) {
  EXPECT_EQ(fp16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_f32(0x7e00)));
  EXPECT_TRUE(std::isnan(fp16_to_f32(0x7c01)));
}

TEST(Float16, EveryFiniteHalfMatchesItsDefinition) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint32_t exponent = (bits >> 10) & 0x1f;
    if (exponent == 0x1f) continue;
    const double mantissa = bits & 0x3ff;
    const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24)
                                           : std::ldexp(1.0 + mantissa / 1024.0, exponent - 15);
    const double expected = (bits & 0x8000) ? -magnitude : magnitude;
    ASSERT_EQ(fp16_to_f32(static_cast<uint16_t>(bits)), expected) << std::hex << bits;
  }
}

TEST(BFloat16, IsTheTopHalfOfFloat32) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xc0a0), -5.0f);
  EXPECT_EQ(bf16_to_f32(0x3e80), 0.25f);
  EXPECT_EQ(bf16_to_f32(0x7f80), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7fc0)));
  EXPECT_TRUE(std::signbit(bf16_to_f32(0x8000)));
}

}  // namespace
}  // namespace dcllm
