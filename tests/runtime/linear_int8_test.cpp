// Pieces of the W8A8 model path: the INT8 linear product against the float one, Int8Tensor
// dequantization for each scale scheme, and the config/vocab JSON of a .dcllm model.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/dcllm_model_metadata.h"
#include "model/int8_tensor.h"
#include "quant/quantize_int8.h"
#include "runtime/linear_int8.h"
#include "runtime/matmul_f32.h"

namespace dcllm {
namespace {

std::vector<float> random_floats(size_t n, float sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

double relative_rms(const std::vector<float>& ref, const std::vector<float>& got) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += (ref[i] - got[i]) * (ref[i] - got[i]);
    norm += ref[i] * ref[i];
  }
  return std::sqrt(err / norm);
}

struct Case {
  bool per_channel;
  bool input_scale;
  const char* activations;  // compression.aquant
};

class LinearInt8 : public ::testing::TestWithParam<Case> {};

TEST_P(LinearInt8, MatchesFloatProductWithinQuantizationError) {
  const Case c = GetParam();
  const int out = 40, in = 200;
  const size_t rows = 7;
  auto w = random_floats(static_cast<size_t>(out * in), 0.05f, 11);
  // Rows of very different size: per-channel scales must follow them.
  for (int n = 0; n < out; ++n)
    for (int k = 0; k < in; ++k) w[static_cast<size_t>(n * in + k)] *= 1.0f + static_cast<float>(n);
  const auto bias = random_floats(static_cast<size_t>(out), 0.2f, 12);
  const auto x = random_floats(rows * in, 1.0f, 13);
  auto s = random_floats(static_cast<size_t>(in), 0.5f, 14);
  for (float& v : s) v = 0.5f + std::abs(v);

  std::vector<int8_t> q(w.size());
  std::vector<float> scales;
  if (c.per_channel) {
    for (int n = 0; n < out; ++n)
      scales.push_back(
          quantize_int8_per_tensor(std::span(w.data() + n * in, static_cast<size_t>(in)),
                                   std::span(q.data() + n * in, static_cast<size_t>(in))));
  } else {
    scales = {quantize_int8_per_tensor(w, q)};
  }
  Int8LinearParams p;
  p.weights = {{c.per_channel ? QuantScheme::kPerChannel : QuantScheme::kPerTensor, out, in, 0},
               q.data(),
               scales.data()};
  ASSERT_TRUE(validate_int8_weights(p.weights).ok());
  p.bias = bias.data();
  p.input_scale = c.input_scale ? s.data() : nullptr;
  p.activations = *parse_activation_quant(c.activations);

  std::vector<float> xs = x;
  if (c.input_scale)
    for (size_t i = 0; i < xs.size(); ++i) xs[i] *= s[i % in];
  std::vector<float> ref(rows * out), got(rows * out);
  matmul_f32(xs.data(), rows, in, w.data(), bias.data(), out, ref.data(), 1);
  linear_int8_forward(p, x.data(), rows, got.data(), 2);
  const double e = relative_rms(ref, got);
  EXPECT_LT(e, 0.03);
  EXPECT_GT(e, 0.0);  // it really went through 8 bits
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, LinearInt8,
    ::testing::Values(Case{false, false, "per-token"}, Case{true, false, "per-token"},
                      Case{false, true, "per-token"}, Case{true, true, "per-tensor"},
                      Case{true, false, "block:32"}, Case{false, true, "block:64"},
                      Case{true, true, "none"}));

// Float activations (weight-only INT8) are the float product over the dequantized weights.
TEST(LinearInt8Float, IsTheFloatProductOfTheDequantizedWeights) {
  const int out = 24, in = 96;
  const size_t rows = 5;
  const auto w = random_floats(static_cast<size_t>(out * in), 0.1f, 31);
  const auto x = random_floats(rows * in, 1.0f, 32);
  const auto bias = random_floats(static_cast<size_t>(out), 0.2f, 33);
  std::vector<int8_t> q(w.size());
  std::vector<float> scales;
  for (int n = 0; n < out; ++n)
    scales.push_back(
        quantize_int8_per_tensor(std::span(w.data() + n * in, static_cast<size_t>(in)),
                                 std::span(q.data() + n * in, static_cast<size_t>(in))));
  Int8LinearParams p;
  p.weights = {{QuantScheme::kPerChannel, out, in, 0}, q.data(), scales.data()};
  p.bias = bias.data();
  p.activations.scheme = ActivationScheme::kFloat;
  std::vector<float> wd(w.size());
  for (int n = 0; n < out; ++n)
    for (int k = 0; k < in; ++k) wd[n * in + k] = q[n * in + k] * scales[n];
  std::vector<float> ref(rows * out), got(rows * out);
  matmul_f32(x.data(), rows, in, wd.data(), bias.data(), out, ref.data(), 1);
  linear_int8_forward(p, x.data(), rows, got.data(), 1);
  EXPECT_EQ(got, ref);
}

// Block activations isolate an outlier channel: with one input 1000x the others, per-token
// quantization loses the rest of the token, blocks of 32 only the outlier's own block.
TEST(LinearInt8Blocks, AnOutlierChannelCostsLessWithBlocks) {
  const int out = 32, in = 256;
  const size_t rows = 4;
  const auto w = random_floats(static_cast<size_t>(out * in), 0.05f, 41);
  auto x = random_floats(rows * in, 1.0f, 42);
  for (size_t r = 0; r < rows; ++r) x[r * in + 3] = 1000.0f;
  std::vector<int8_t> q(w.size());
  std::vector<float> scales;
  for (int n = 0; n < out; ++n)
    scales.push_back(
        quantize_int8_per_tensor(std::span(w.data() + n * in, static_cast<size_t>(in)),
                                 std::span(q.data() + n * in, static_cast<size_t>(in))));
  std::vector<float> wd(w.size());
  for (size_t i = 0; i < w.size(); ++i) wd[i] = q[i] * scales[i / in];
  // The reference keeps the weights' rounding, so only the activations' error is compared.
  std::vector<float> ref(rows * out), token(rows * out), block(rows * out);
  matmul_f32(x.data(), rows, in, wd.data(), nullptr, out, ref.data(), 1);
  Int8LinearParams p;
  p.weights = {{QuantScheme::kPerChannel, out, in, 0}, q.data(), scales.data()};
  linear_int8_forward(p, x.data(), rows, token.data(), 1);
  p.activations = *parse_activation_quant("block:32");
  linear_int8_forward(p, x.data(), rows, block.data(), 1);
  // Without the outlier's own contribution the comparison would be dominated by it. Per token
  // all 256 inputs get the outlier's step; with blocks only the 31 beside it: about
  // sqrt(31 / 255) = 0.35 of the error.
  for (size_t r = 0; r < rows; ++r)
    for (int n = 0; n < out; ++n) {
      const float c = 1000.0f * wd[n * in + 3];
      ref[r * out + n] -= c, token[r * out + n] -= c, block[r * out + n] -= c;
    }
  EXPECT_LT(relative_rms(ref, block), 0.5 * relative_rms(ref, token));
}

TEST(LinearInt8Batch, OneBatchEqualsTokensOneByOne) {
  const int out = 16, in = 64;
  const auto w = random_floats(static_cast<size_t>(out * in), 0.1f, 21);
  std::vector<int8_t> q(w.size());
  const float scale = quantize_int8_per_tensor(w, q);
  Int8LinearParams p;
  p.weights = {{QuantScheme::kPerTensor, out, in, 0}, q.data(), &scale};
  const auto x = random_floats(3 * in, 1.0f, 22);
  std::vector<float> batch(3 * out), single(3 * out);
  linear_int8_forward(p, x.data(), 3, batch.data(), 1);
  for (size_t r = 0; r < 3; ++r)
    linear_int8_forward(p, x.data() + r * in, 1, single.data() + r * out, 1);
  EXPECT_EQ(batch, single);  // per-token scales: a token's result does not depend on its batch
}

TEST(Int8Tensor, DequantizesEachScheme) {
  Int8Tensor t;
  t.rows = 2;
  t.cols = 5;
  t.values = {1, -2, 3, -4, 5, 10, 20, 30, 40, 127};
  t.scheme = QuantScheme::kPerTensor;
  t.scales = {0.5f};
  EXPECT_EQ(t.dequantize(), (std::vector<float>{0.5f, -1, 1.5f, -2, 2.5f, 5, 10, 15, 20, 63.5f}));
  t.scheme = QuantScheme::kPerChannel;
  t.scales = {1.0f, 0.25f};
  EXPECT_EQ(t.dequantize(), (std::vector<float>{1, -2, 3, -4, 5, 2.5f, 5, 7.5f, 10, 31.75f}));
  t.scheme = QuantScheme::kGroup;
  t.group = 2;  // 3 groups per row, the last one short
  t.scales = {1, 2, 3, 0.5f, 0.25f, 0.125f};
  EXPECT_EQ(t.dequantize(), (std::vector<float>{1, -2, 6, -8, 15, 5, 10, 7.5f, 10, 15.875f}));
}

TEST(DcllmModelMetadata, ConfigAndVocabRoundTrip) {
  ModelConfig c;
  c.architecture = "qwen2";
  c.dim = 64;
  c.hidden_dim = 172;
  c.n_layers = 5;
  c.n_heads = 8;
  c.n_kv_heads = 4;
  c.head_dim = 8;
  c.vocab_size = 3;
  c.seq_len = 512;
  c.norm_eps = 1e-6f;
  c.rope_theta = 1e6f;
  c.rope_dim = 8;
  c.rope_style = RopeStyle::kHalves;
  c.attn_qkv_bias = true;
  auto back = model_config_from_json(model_config_to_json(c), "m.dcllm");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->architecture, "qwen2");
  EXPECT_EQ(back->hidden_dim, 172);
  EXPECT_EQ(back->norm_eps, 1e-6f);
  EXPECT_EQ(back->rope_style, RopeStyle::kHalves);
  EXPECT_TRUE(back->attn_qkv_bias);
  EXPECT_FALSE(back->tied_classifier);

  Vocab v;
  v.kind = VocabKind::kByteLevelBpe;
  v.tokens = {"a", "b", "ab"};
  v.merges = {"a b"};
  v.types = {TokenType::kNormal, TokenType::kByte, TokenType::kControl};
  v.bos_id = 2;
  v.add_space_prefix = false;
  v.pre_tokenizer = "qwen2";
  auto vb = vocab_from_json(vocab_to_json(v), "m.dcllm");
  ASSERT_TRUE(vb.ok()) << vb.status().message();
  EXPECT_EQ(vb->kind, VocabKind::kByteLevelBpe);
  EXPECT_EQ(vb->tokens, v.tokens);
  EXPECT_EQ(vb->merges, v.merges);
  EXPECT_EQ(vb->types, v.types);
  EXPECT_EQ(vb->bos_id, 2);
  EXPECT_FALSE(vb->add_space_prefix);
  EXPECT_EQ(vb->pre_tokenizer, "qwen2");
}

TEST(DcllmModelMetadata, MissingOrIllTypedFieldIsCorruptNamingIt) {
  auto j = model_config_to_json(ModelConfig{});
  j["dim"] = "sixty-four";
  auto r = model_config_from_json(j, "m.dcllm");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("m.dcllm"), std::string::npos);
  EXPECT_NE(r.status().message().find("config.dim"), std::string::npos);
  auto v = vocab_to_json(Vocab{});
  v.erase("tokens");
  EXPECT_FALSE(vocab_from_json(v, "m.dcllm").ok());
  EXPECT_FALSE(model_config_from_json(nlohmann::json::array(), "m.dcllm").ok());
}

}  // namespace
}  // namespace dcllm
