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
  auto t = parse_quant_scheme("per-tensor");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->scheme, QuantScheme::kPerTensor);
  auto c = parse_quant_scheme("per-channel");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->scheme, QuantScheme::kPerChannel);
  auto g = parse_quant_scheme("group:128");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->scheme, QuantScheme::kGroup);
  EXPECT_EQ(g->group, 128u);
  for (const char* name : {"per-tensor", "per-channel", "group:1", "group:128", "group:16777216"})
    EXPECT_EQ([](const Int8Layout& l) { return quant_scheme_name(l.scheme, l.group); }(*parse_quant_scheme(name)), name);
}

TEST(WeightQuantScheme, RejectsMalformedStrings) {
  for (const char* bad : {"", "per_tensor", "tensor", "Per-Tensor", "group", "group:", "group:0",
                          "group:-1", "group:+8", "group: 8", "group:8 ", "group:12x",
                          "group:16777217", "group:99999999999999999999999", "groups:8"}) {
    auto r = parse_quant_scheme(bad);
    EXPECT_FALSE(r.ok()) << "'" << bad << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_EQ(parse_quant_scheme("int4").status().message(),
            "unknown weight quantization 'int4' (expected per-tensor, per-channel or group:N)");
  EXPECT_EQ(parse_quant_scheme("group:0").status().message(),
            "weight quantization 'group:0': the group size must be an integer in [1, 16777216]");
}

TEST(WeightQuantScheme, ScaleCounts) {
  const Int8Layout tensor{QuantScheme::kPerTensor, 7, 10, 0};
  const Int8Layout channel{QuantScheme::kPerChannel, 7, 10, 0};
  const Int8Layout g4{QuantScheme::kGroup, 7, 10, 4};
  EXPECT_EQ(tensor.scale_count(), 1);
  EXPECT_EQ(channel.scale_count(), 7);
  EXPECT_EQ(g4.scale_count(), 21);  // 10 = 4 + 4 + 2
  EXPECT_EQ((Int8Layout{QuantScheme::kGroup, 7, 8, 4}).scale_count(), 14);
  EXPECT_EQ(g4.scale_index(2, 9), 2 * 3 + 2);
  EXPECT_FALSE(validate_int8_layout({QuantScheme::kGroup, 7, 8, 0}).ok());
  EXPECT_FALSE(validate_int8_layout({QuantScheme::kPerChannel, 7, 8, 4}).ok());
  EXPECT_TRUE(validate_int8_layout(g4).ok());
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
  EXPECT_EQ(m->values, q);
}

TEST(QuantizeWeightsInt8, PerChannelHasOneScalePerRow) {
  const std::vector<float> w = {1.27f,   -0.5f,  0.0f,  //
                                0.0f,    0.0f,   0.0f,  //
                                -254.0f, 127.0f, 1.0f};
  auto m = quantize_weights_int8(w, 3, 3, {QuantScheme::kPerChannel});
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->scales.size(), 3u);
  EXPECT_FLOAT_EQ(m->scales[0], 0.01f);
  EXPECT_EQ(m->scales[1], 1.0f);  // an all-zero row
  EXPECT_FLOAT_EQ(m->scales[2], 2.0f);
  EXPECT_EQ(m->values,
            (std::vector<int8_t>{127, -50, 0, 0, 0, 0, -127, 64, 0}));  // 63.5 -> 64, 0.5 -> 0
}

TEST(QuantizeWeightsInt8, GroupsRunAlongTheRowAndTheLastMayBeShort) {
  // Two rows of 5, group:2 -> groups {0,1} {2,3} {4} per row.
  const std::vector<float> w = {1.0f, -2.0f, 0.5f,  0.25f, 3.0f,  //
                                4.0f, 4.0f,  -1.0f, 0.0f,  -0.3f};
  const Int8Layout g2{QuantScheme::kGroup, 0, 0, 2};
  auto m = quantize_weights_int8(w, 2, 5, g2);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->scales.size(), 6u);
  const std::vector<float> expect_scales = {2.0f / 127, 0.5f / 127, 3.0f / 127,
                                            4.0f / 127, 1.0f / 127, 0.3f / 127};
  for (size_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(m->scales[i], expect_scales[i]) << i;
  EXPECT_EQ(m->values, (std::vector<int8_t>{64, -127, 127, 64, 127, 127, 127, -127, 0, -127}));
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
    auto scheme = parse_quant_scheme(name);
    ASSERT_TRUE(scheme.ok());
    auto m = quantize_weights_int8(w, rows, cols, *scheme);
    ASSERT_TRUE(m.ok()) << name;
    auto back = dequantize_weights_int8(*m);
    ASSERT_TRUE(back.ok());
    const size_t groups =
        m->scales.size() / (scheme->scheme == QuantScheme::kPerTensor ? 1 : rows);
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = 0; j < cols; ++j) {
        size_t s = 0;
        if (scheme->scheme == QuantScheme::kPerChannel) s = r;
        if (scheme->scheme == QuantScheme::kGroup)
          s = r * groups + j / scheme->group;
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
    auto m = quantize_weights_int8(w, rows, cols, *parse_quant_scheme(name));
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
  EXPECT_FALSE(quantize_weights_int8(w, {QuantScheme::kPerTensor, 3, 4, 0}, q, scales).ok());  // 2 scales for per-tensor
  auto m = quantize_weights_int8(w, 3, 4, {QuantScheme::kPerChannel});
  ASSERT_TRUE(m.ok());
  m->scales.pop_back();
  EXPECT_FALSE(dequantize_weights_int8(*m).ok());
}

}  // namespace
}  // namespace dcllm
