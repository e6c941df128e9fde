// INT8 weight quantization at per-tensor / per-channel / group:N granularity: parsing the
// --wquant strings, scale layout, known values, and the half-step reconstruction bound.
#include "quant/weight_quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "quant/quantize_int8.h"

namespace dcllm {
namespace {

TEST(WeightQuantScheme, ParsesTheCliStrings) {
  auto t = parse_weight_quant_scheme("per-tensor");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->granularity, WeightQuantGranularity::kPerTensor);
  auto c = parse_weight_quant_scheme("per-channel");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->granularity, WeightQuantGranularity::kPerChannel);
  auto g = parse_weight_quant_scheme("group:128");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->granularity, WeightQuantGranularity::kGroup);
  EXPECT_EQ(g->group_size, 128u);
  for (const char* name : {"per-tensor", "per-channel", "group:1", "group:128", "group:16777216"})
    EXPECT_EQ(weight_quant_scheme_name(*parse_weight_quant_scheme(name)), name);
}

TEST(WeightQuantScheme, RejectsMalformedStrings) {
  for (const char* bad : {"", "per_tensor", "tensor", "Per-Tensor", "group", "group:", "group:0",
                          "group:-1", "group:+8", "group: 8", "group:8 ", "group:12x",
                          "group:16777217", "group:99999999999999999999999", "groups:8"}) {
    auto r = parse_weight_quant_scheme(bad);
    EXPECT_FALSE(r.ok()) << "'" << bad << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_EQ(parse_weight_quant_scheme("int4").status().message(),
            "unknown weight quantization 'int4' (expected per-tensor, per-channel or group:N)");
  EXPECT_EQ(parse_weight_quant_scheme("group:0").status().message(),
            "weight quantization 'group:0': the group size must be an integer in [1, 16777216]");
}

TEST(WeightQuantScheme, ScaleCounts) {
  const WeightQuantScheme tensor{WeightQuantGranularity::kPerTensor, 0};
  const WeightQuantScheme channel{WeightQuantGranularity::kPerChannel, 0};
  const WeightQuantScheme g4{WeightQuantGranularity::kGroup, 4};
  EXPECT_EQ(*weight_quant_scale_count(tensor, 7, 10), 1u);
  EXPECT_EQ(*weight_quant_scale_count(channel, 7, 10), 7u);
  EXPECT_EQ(*weight_quant_scale_count(g4, 7, 10), 21u);  // 10 = 4 + 4 + 2
  EXPECT_EQ(*weight_quant_scale_count(g4, 7, 8), 14u);
  EXPECT_FALSE(weight_quant_scale_count({WeightQuantGranularity::kGroup, 0}, 7, 8).ok());
  EXPECT_FALSE(weight_quant_scale_count({WeightQuantGranularity::kPerChannel, 4}, 7, 8).ok());
}

TEST(QuantizeWeightsInt8, PerTensorMatchesTheSingleTensorQuantizer) {
  std::mt19937 rng(11);
  std::normal_distribution<float> gauss(0.0f, 0.05f);
  std::vector<float> w(37 * 29);
  for (float& v : w) v = gauss(rng);
  auto m = quantize_weights_int8(w, 37, 29, {});
  ASSERT_TRUE(m.ok());
  std::vector<int8_t> q(w.size());
  const float scale = quantize_int8_per_tensor(w, q);
  ASSERT_EQ(m->scales.size(), 1u);
  EXPECT_EQ(m->scales[0], scale);
  EXPECT_EQ(m->q, q);
}

TEST(QuantizeWeightsInt8, PerChannelHasOneScalePerRow) {
  const std::vector<float> w = {1.27f,   -0.5f,  0.0f,  //
                                0.0f,    0.0f,   0.0f,  //
                                -254.0f, 127.0f, 1.0f};
  auto m = quantize_weights_int8(w, 3, 3, {WeightQuantGranularity::kPerChannel, 0});
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->scales.size(), 3u);
  EXPECT_FLOAT_EQ(m->scales[0], 0.01f);
  EXPECT_EQ(m->scales[1], 1.0f);  // an all-zero row
  EXPECT_FLOAT_EQ(m->scales[2], 2.0f);
  EXPECT_EQ(m->q,
            (std::vector<int8_t>{127, -50, 0, 0, 0, 0, -127, 64, 0}));  // 63.5 -> 64, 0.5 -> 0
}

TEST(QuantizeWeightsInt8, GroupsRunAlongTheRowAndTheLastMayBeShort) {
  // Two rows of 5, group:2 -> groups {0,1} {2,3} {4} per row.
  const std::vector<float> w = {1.0f, -2.0f, 0.5f,  0.25f, 3.0f,  //
                                4.0f, 4.0f,  -1.0f, 0.0f,  -0.3f};
  const WeightQuantScheme g2{WeightQuantGranularity::kGroup, 2};
  auto m = quantize_weights_int8(w, 2, 5, g2);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->scales.size(), 6u);
  const std::vector<float> expect_scales = {2.0f / 127, 0.5f / 127, 3.0f / 127,
                                            4.0f / 127, 1.0f / 127, 0.3f / 127};
  for (size_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(m->scales[i], expect_scales[i]) << i;
  EXPECT_EQ(m->q, (std::vector<int8_t>{64, -127, 127, 64, 127, 127, 127, -127, 0, -127}));
  auto back = dequantize_weights_int8(*m);
  ASSERT_TRUE(back.ok());
  EXPECT_FLOAT_EQ((*back)[9], -0.3f);
  EXPECT_FLOAT_EQ((*back)[1], -2.0f);
}

TEST(QuantizeWeightsInt8, ReconstructionErrorIsAtMostHalfAStepInEveryScheme) {
  std::mt19937 rng(12);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  const size_t rows = 13, cols = 70;
  std::vector<float> w(rows * cols);
  for (size_t i = 0; i < w.size(); ++i) w[i] = gauss(rng) * (1.0f + static_cast<float>(i % 9));
  for (const char* name :
       {"per-tensor", "per-channel", "group:1", "group:16", "group:64", "group:1000"}) {
    auto scheme = parse_weight_quant_scheme(name);
    ASSERT_TRUE(scheme.ok());
    auto m = quantize_weights_int8(w, rows, cols, *scheme);
    ASSERT_TRUE(m.ok()) << name;
    auto back = dequantize_weights_int8(*m);
    ASSERT_TRUE(back.ok());
    const size_t groups =
        m->scales.size() / (scheme->granularity == WeightQuantGranularity::kPerTensor ? 1 : rows);
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = 0; j < cols; ++j) {
        size_t s = 0;
        if (scheme->granularity == WeightQuantGranularity::kPerChannel) s = r;
        if (scheme->granularity == WeightQuantGranularity::kGroup)
          s = r * groups + j / scheme->group_size;
        const size_t i = r * cols + j;
        EXPECT_LE(std::fabs((*back)[i] - w[i]), 0.5f * m->scales[s] * 1.0001f) << name << " " << i;
      }
  }
}

TEST(QuantizeWeightsInt8, FinerGranularityNeverLosesAccuracy) {
  std::mt19937 rng(13);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  const size_t rows = 16, cols = 256;
  std::vector<float> w(rows * cols);
  for (size_t i = 0; i < w.size(); ++i) w[i] = gauss(rng) * (i % 64 == 0 ? 30.0f : 1.0f);
  auto error = [&](const char* name) {
    auto m = quantize_weights_int8(w, rows, cols, *parse_weight_quant_scheme(name));
    auto back = dequantize_weights_int8(*m);
    double e = 0;
    for (size_t i = 0; i < w.size(); ++i) e += std::pow((*back)[i] - w[i], 2);
    return e;
  };
  EXPECT_LT(error("group:32"), error("per-tensor"));
  EXPECT_LE(error("group:32"), error("per-channel"));
}

TEST(QuantizeWeightsInt8, SizeMismatchesAreErrors) {
  const std::vector<float> w(12, 1.0f);
  EXPECT_FALSE(quantize_weights_int8(w, 3, 5, {}).ok());
  EXPECT_FALSE(quantize_weights_int8(w, size_t{1} << 62, 8, {}).ok());  // rows*cols overflows
  std::vector<int8_t> q(12);
  std::vector<float> scales(2);
  EXPECT_FALSE(quantize_weights_int8(w, 3, 4, {}, q, scales).ok());  // 2 scales for per-tensor
  auto m = quantize_weights_int8(w, 3, 4, {WeightQuantGranularity::kPerChannel, 0});
  ASSERT_TRUE(m.ok());
  m->scales.pop_back();
  EXPECT_FALSE(dequantize_weights_int8(*m).ok());
}

}  // namespace
}  // namespace dcllm
