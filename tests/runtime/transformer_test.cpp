// The float32 forward pass: stories260K.gguf gives the .bin's logits, a batched prompt equals
// token-by-token decoding, threads change nothing, NeoX RoPE matches interleaved RoPE on
// permuted weights, and the activation observer sees every linear input.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "model/model_loader.h"
#include "runtime/transformer.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

Model load(const std::string& name) {
  auto m = load_model(kData + "/" + name);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return std::move(m).value();
}

const std::vector<int32_t> kTokens = {1, 403, 407, 261, 378, 429, 270, 34, 0, 511, 2, 300, 17};

// Logits for every position of kTokens.
std::vector<float> all_logits(const Model& m, unsigned threads, bool one_by_one) {
  TransformerOptions o;
  o.threads = threads;
  o.max_seq = 64;
  auto t = Transformer::create(m, o);
  EXPECT_TRUE(t.ok()) << t.status().message();
  std::vector<float> out;
  if (one_by_one) {
    for (size_t i = 0; i < kTokens.size(); ++i) {
      auto l = t->forward(std::span(&kTokens[i], 1), static_cast<int64_t>(i));
      EXPECT_TRUE(l.ok());
      out.insert(out.end(), l->begin(), l->end());
    }
  } else {
    auto l = t->forward(kTokens, 0, true);
    EXPECT_TRUE(l.ok());
    out.assign(l->begin(), l->end());
  }
  return out;
}

TEST(Transformer, GgufGivesTheSameLogitsAsLlama2c) {
  const Model bin = load("stories260K.bin"), gguf = load("stories260K.gguf");
  const auto a = all_logits(bin, 2, false), b = all_logits(gguf, 2, false);
  ASSERT_EQ(a.size(), kTokens.size() * 512);
  EXPECT_EQ(a, b);  // same floats, same kernels: the same bits
  // And they are real logits: finite, not all alike.
  float lo = a[0], hi = a[0];
  for (float v : a) {
    ASSERT_TRUE(std::isfinite(v));
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GT(hi - lo, 5.0f);
}

TEST(Transformer, BatchedPromptEqualsTokenByToken) {
  const Model m = load("stories260K.bin");
  EXPECT_EQ(all_logits(m, 2, false), all_logits(m, 2, true));
}

TEST(Transformer, ThreadCountDoesNotChangeResults) {
  const Model m = load("stories260K.bin");
  EXPECT_EQ(all_logits(m, 1, false), all_logits(m, 2, false));
}

TEST(Transformer, GreedyContinuationOfBos) {
  // llama2.c's stories260K sample starts "Once upon a time": BOS predicts "Once".
  const Model m = load("stories260K.gguf");
  auto t = Transformer::create(m);
  ASSERT_TRUE(t.ok());
  const int32_t bos = 1;
  auto l = t->forward(std::span(&bos, 1), 0);
  ASSERT_TRUE(l.ok());
  const int32_t best = static_cast<int32_t>(std::max_element(l->begin(), l->end()) - l->begin());
  EXPECT_EQ(m.vocab->tokens[static_cast<size_t>(best)], "▁Once");
}

// The Hugging Face -> GGUF conversion permutes each head's q/k rows so that pairs (i, i+d/2)
// become (2i, 2i+1). Undoing it and rotating halves must give the same model.
TEST(Transformer, NeoxRopeMatchesInterleavedOnPermutedWeights) {
  const Model orig = load("stories260K.bin");
  Model neox;
  neox.config = orig.config;
  neox.config.rope_style = RopeStyle::kHalves;
  neox.path = "permuted";
  const int64_t hd = orig.config.head_dim, D = orig.config.dim;
  for (const ModelTensor& t : orig.tensors()) {
    ModelTensor c;
    c.name = t.name;
    c.shape = t.shape;
    c.owned.assign(t.data, t.data + t.numel());
    const bool is_qk = t.name.find("attn_q.weight") != std::string::npos ||
                       t.name.find("attn_k.weight") != std::string::npos;
    if (is_qk) {
      // Row 2i of a head (interleaved) becomes row i (halves); row 2i+1 becomes i + hd/2.
      for (int64_t row = 0; row < t.shape[0]; ++row) {
        const int64_t head = row / hd, j = row % hd;
        const int64_t dst = head * hd + (j % 2 == 0 ? j / 2 : j / 2 + hd / 2);
        std::copy(t.data + row * D, t.data + (row + 1) * D, c.owned.begin() + dst * D);
      }
    }
    c.data = c.owned.data();
    neox.add_tensor(std::move(c));
  }
  const auto a = all_logits(orig, 2, false), b = all_logits(neox, 2, false);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4f) << i;
}

TEST(Transformer, ObserverSeesEveryLinearInput) {
  const Model m = load("stories260K.bin");
  auto t = Transformer::create(m);
  ASSERT_TRUE(t.ok());
  std::map<std::string, std::pair<size_t, size_t>> seen;  // name -> (rows, cols)
  float max_abs_q0 = 0.0f;
  t->set_observer([&](const std::string& name, const float* x, size_t rows, size_t cols) {
    seen[name] = {rows, cols};
    if (name == "blk.0.attn_q") {
      for (size_t i = 0; i < rows * cols; ++i) max_abs_q0 = std::max(max_abs_q0, std::fabs(x[i]));
    }
  });
  ASSERT_TRUE(t->forward(std::span(kTokens.data(), 5), 0).ok());
  EXPECT_EQ(seen.size(), 5u * 7u + 1u);
  EXPECT_EQ(seen["blk.0.attn_q"], (std::pair<size_t, size_t>{5, 64}));
  EXPECT_EQ(seen["blk.4.ffn_down"], (std::pair<size_t, size_t>{5, 172}));
  EXPECT_EQ(seen["blk.2.attn_output"], (std::pair<size_t, size_t>{5, 64}));
  EXPECT_EQ(seen["output"], (std::pair<size_t, size_t>{1, 64}));  // only the last row's logits
  EXPECT_GT(max_abs_q0, 0.0f);
  EXPECT_EQ(t->linears().size(), 5u * 7u + 1u);
}

TEST(Transformer, RejectsBadInput) {
  const Model m = load("stories260K.bin");
  TransformerOptions o;
  o.max_seq = 8;
  auto t = Transformer::create(m, o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->max_seq(), 8);
  const std::vector<int32_t> nine(9, 1);
  EXPECT_FALSE(t->forward(nine, 0).ok());
  const int32_t one = 1;
  EXPECT_FALSE(t->forward(std::span(&one, 1), 8).ok());
  const int32_t bad = 512;
  EXPECT_FALSE(t->forward(std::span(&bad, 1), 0).ok());
  EXPECT_FALSE(t->forward({}, 0).ok());
}

TEST(Transformer, MissingTensorsAreNamed) {
  auto m = load_model(kData + "/stories260K.bin", LoadOptions{false, "", 1});
  ASSERT_TRUE(m.ok());
  auto t = Transformer::create(*m);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("token_embd.weight"), std::string::npos);
  EXPECT_NE(t.status().message().find("without data"), std::string::npos);
}

}  // namespace
}  // namespace dcllm
