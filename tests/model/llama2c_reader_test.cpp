// llama2.c checkpoints: stories260K's header and in-place tensor views, the unshared
// classifier layout, and malformed headers/sizes failing with one-line errors.
#include <gtest/gtest.h>

#include <cstring>

#include "core/mapped_file.h"
#include "model/llama2c_reader.h"
#include "model/model_loader.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

Expected<Model> read_bytes(const std::vector<uint8_t>& bytes, bool weights = true) {
  LoadOptions o;
  o.load_weights = weights;
  return read_llama2c(ModelSource{"m.bin", bytes, nullptr}, o);
}

// A tiny checkpoint: every float is its own index, so views can be checked by value.
std::vector<uint8_t> tiny_checkpoint(int32_t dim, int32_t hidden, int32_t layers, int32_t heads,
                                     int32_t kv_heads, int32_t vocab, int32_t seq) {
  const int64_t hd = dim / heads, kv = kv_heads * hd, V = vocab < 0 ? -vocab : vocab;
  int64_t n = V * dim +
              layers * (dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * hidden * dim) + dim +
              seq * hd;
  if (vocab < 0) n += V * dim;
  std::vector<uint8_t> b(28 + 4 * n);
  const int32_t h[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq};
  std::memcpy(b.data(), h, 28);
  for (int64_t i = 0; i < n; ++i) {
    const float f = static_cast<float>(i);
    std::memcpy(b.data() + 28 + 4 * i, &f, 4);
  }
  return b;
}

TEST(Llama2cReader, Stories260K) {
  LoadOptions o;
  o.tokenizer_path = kData + "/tok512.bin";
  auto m = load_model(kData + "/stories260K.bin", o);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const ModelConfig& c = m->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.seq_len, 512);
  EXPECT_TRUE(c.tied_classifier);
  EXPECT_EQ(c.rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(m->parameter_count(), 260032);
  EXPECT_EQ(m->find("output.weight"), nullptr);
  ASSERT_TRUE(m->vocab.has_value());
  EXPECT_EQ(m->vocab->tokens.size(), 512u);

  // Weights are views into the mapping, not copies: the first float sits right after the header.
  auto raw = MappedFile::open(kData + "/stories260K.bin");
  ASSERT_TRUE(raw.ok());
  const ModelTensor* embd = m->find("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_TRUE(embd->owned.empty());
  EXPECT_EQ(std::memcmp(embd->data, raw->data() + 28, 512 * 64 * 4), 0);
  const ModelTensor* wq1 = m->find("blk.1.attn_q.weight");
  ASSERT_NE(wq1, nullptr);
  // layer 1's wq follows the embedding, 5 rms_att vectors and layer 0's wq.
  EXPECT_EQ(
      std::memcmp(wq1->data, raw->data() + 28 + 4 * (512 * 64 + 5 * 64 + 64 * 64), 64 * 64 * 4), 0);
}

TEST(Llama2cReader, UnsharedClassifierFollowsRopeTables) {
  const auto bytes = tiny_checkpoint(8, 12, 2, 2, 1, -16, 4);
  auto m = read_bytes(bytes);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_FALSE(m->config.tied_classifier);
  EXPECT_EQ(m->config.vocab_size, 16);
  const ModelTensor* out = m->find("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->shape, (std::vector<int64_t>{16, 8}));
  // Everything before it: 16*8 + 2*(8 + 64 + 2*32 + 64 + 8 + 3*96) + 8, then 4*4/2*2 RoPE floats.
  const float first = static_cast<float>(16 * 8 + 2 * (8 + 64 + 64 + 64 + 8 + 288) + 8 + 16);
  EXPECT_EQ(out->data[0], first);
  const ModelTensor* k1 = m->find("blk.1.attn_k.weight");
  ASSERT_NE(k1, nullptr);
  EXPECT_EQ(k1->shape, (std::vector<int64_t>{4, 8}));
}

TEST(Llama2cReader, WithoutWeightsHasShapesOnly) {
  auto m = read_bytes(tiny_checkpoint(8, 12, 1, 2, 2, 16, 4), false);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->find("token_embd.weight")->data, nullptr);
  EXPECT_EQ(m->find("blk.0.ffn_down.weight")->shape, (std::vector<int64_t>{8, 12}));
}

void expect_corrupt(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  auto m = read_bytes(bytes);
  ASSERT_FALSE(m.ok());
  const std::string& msg = m.status().message();
  EXPECT_EQ(msg.rfind("m.bin: ", 0), 0u) << msg;
  EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(Llama2cReader, MalformedFiles) {
  const auto good = tiny_checkpoint(8, 12, 2, 2, 1, -16, 4);
  ASSERT_TRUE(read_bytes(good).ok());
  expect_corrupt({1, 2, 3}, "shorter than the 28-byte");
  auto with = [&](int field, int32_t v) {
    auto b = good;
    std::memcpy(b.data() + 4 * field, &v, 4);
    return b;
  };
  expect_corrupt(with(0, 0), "bad llama2.c header");
  expect_corrupt(with(0, -8), "bad llama2.c header");
  expect_corrupt(with(2, 1 << 30), "bad llama2.c header");
  expect_corrupt(with(0, 9), "not a multiple of n_heads");
  expect_corrupt(with(4, 3), "not a multiple of n_kv_heads");
  expect_corrupt(with(5, 0), "vocab_size");
  expect_corrupt(with(5, INT32_MIN), "vocab_size");
  // Huge but in-range dimensions: the sizes must be refused, not allocated or read.
  expect_corrupt(with(1, 1 << 24), "runs past the end");
  expect_corrupt(with(6, 1 << 24), "runs past the end");
  // Truncated weights, including a cut inside the unshared classifier.
  for (size_t cut : {size_t{29}, good.size() / 2, good.size() - 4}) {
    std::vector<uint8_t> b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    expect_corrupt(b, "runs past the end");
  }
  std::vector<uint8_t> ak42 = good;
  std::memcpy(ak42.data(), "ak42", 4);
  auto r = read_bytes(ak42);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
}

TEST(ModelLoader, ErrorsNameTheFile) {
  auto missing = load_model("/nonexistent/x.bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/x.bin"), std::string::npos);
  auto unknown = load_model(kData + "/README.md");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown model format"), std::string::npos);
  auto no_vocab = load_model(kData + "/stories260K.bin");
  ASSERT_TRUE(no_vocab.ok());
  auto tok = tokenizer_for(*no_vocab);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("--tokenizer"), std::string::npos);
}

}  // namespace
}  // namespace dcllm
