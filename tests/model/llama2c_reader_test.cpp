// llama2.c checkpoints: stories260K's header and in-place tensor views, the unshared
// classifier layout, and malformed headers/sizes failing with one-line errors.
#include <gtest/gtest.h>

#include <cmath>
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
// `rope_tables`: whether freq_cis_real/imag (seq * head_size / 2 floats each) are written.
std::vector<uint8_t> tiny_checkpoint(int32_t dim, int32_t hidden, int32_t layers, int32_t heads,
                                     int32_t kv_heads, int32_t vocab, int32_t seq,
                                     bool rope_tables = true) {
  const int64_t hd = dim / heads, kv = kv_heads * hd, V = vocab < 0 ? -vocab : vocab;
  int64_t n = V * dim +
              layers * (dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * hidden * dim) + dim +
              (rope_tables ? seq * hd : 0);
  if (vocab < 0) n += V * dim;
  std::vector<uint8_t> b(28 + 4 * n);
  const int32_t h[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq};
  std::memcpy(b.data(), h, 28);
  for (int64_t i = 0; i < n; ++i) {
    const float f = static_cast<float>(i);
    std::memcpy(b.data() + 28 + 4 * i, &f, 4);
  }
  if (rope_tables) {
    // The tables hold what llama2.c's export writes: cos / sin of pos * 10000^(-2i / hd).
    const int64_t at =
        V * dim + layers * (dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * hidden * dim) +
        dim;
    for (int64_t pos = 0; pos < seq; ++pos) {
      for (int64_t i = 0; i < hd / 2; ++i) {
        const double angle = static_cast<double>(pos) * std::pow(10000.0, -2.0 * i / hd);
        const float re = static_cast<float>(std::cos(angle));
        const float im = static_cast<float>(std::sin(angle));
        const int64_t k = at + pos * (hd / 2) + i;
        std::memcpy(b.data() + 28 + 4 * k, &re, 4);
        std::memcpy(b.data() + 28 + 4 * (k + seq * hd / 2), &im, 4);
      }
    }
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

TEST(Llama2cReader, CheckpointWithoutRopeTables) {
  for (int32_t vocab : {16, -16}) {
    const auto bytes = tiny_checkpoint(8, 12, 2, 2, 1, vocab, 4, false);
    auto m = read_bytes(bytes);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->config.seq_len, 4);
    const float before_classifier =
        static_cast<float>(16 * 8 + 2 * (8 + 64 + 64 + 64 + 8 + 288) + 8);
    if (vocab < 0) {
      // The unshared classifier follows output_norm directly.
      const ModelTensor* out = m->find("output.weight");
      ASSERT_NE(out, nullptr);
      EXPECT_EQ(out->data[0], before_classifier);
    } else {
      EXPECT_EQ(m->find("output.weight"), nullptr);
    }
  }
}

// Every header edit that changes the implied size, and appended bytes, is refused with the
// file's name, its size and the size the header needs; none of these used to be noticed.
TEST(Llama2cReader, HeaderMustMatchTheFileSize) {
  for (int32_t vocab : {32, -32}) {
    for (bool rope : {true, false}) {
      const auto good = tiny_checkpoint(16, 24, 5, 4, 2, vocab, 8, rope);
      ASSERT_TRUE(read_bytes(good).ok());
      auto with = [&](int field, int32_t v) {
        auto b = good;
        std::memcpy(b.data() + 4 * field, &v, 4);
        return b;
      };
      std::vector<std::pair<std::string, std::vector<uint8_t>>> bad;
      for (int32_t layers = 1; layers <= 4; ++layers) {
        bad.emplace_back("n_layers " + std::to_string(layers), with(2, layers));
      }
      bad.emplace_back("hidden_dim 1", with(1, 1));
      bad.emplace_back("n_kv_heads 1", with(4, 1));
      bad.emplace_back("n_kv_heads 4", with(4, 4));
      if (rope) {
        // Only the tables witness seq_len: a file without them holds nothing sized by it.
        bad.emplace_back("seq_len 16", with(6, 16));
        bad.emplace_back("seq_len 4", with(6, 4));
      } else {
        EXPECT_TRUE(read_bytes(with(6, 16)).ok());
      }
      bad.emplace_back("vocab 31", with(5, vocab > 0 ? 31 : -31));
      bad.emplace_back("vocab sign", with(5, -vocab));
      for (size_t extra : {size_t{1}, size_t{4}, size_t{4096}}) {
        auto b = good;
        b.resize(b.size() + extra, 0);
        bad.emplace_back(std::to_string(extra) + " bytes appended", b);
      }
      for (const auto& [what, bytes] : bad) {
        SCOPED_TRACE(what + (rope ? " (RoPE tables)" : " (no RoPE tables)") +
                     (vocab > 0 ? " shared" : " unshared"));
        auto m = read_bytes(bytes);
        ASSERT_FALSE(m.ok());
        const std::string& msg = m.status().message();
        EXPECT_EQ(m.status().code(), StatusCode::kCorrupt);
        EXPECT_EQ(msg.find('\n'), std::string::npos);
        // Mostly the size gives the edit away; where two edits trade sizes exactly (vocab 31
        // unshared: one classifier row pair for one RoPE table row pair), the tables do.
        if (msg.find("hold no RoPE tables") != std::string::npos) {
          EXPECT_EQ(what, "vocab 31") << msg;
          EXPECT_EQ(msg.rfind("m.bin: the bytes where its llama2.c header puts the RoPE tables", 0),
                    0u)
              << msg;
          continue;
        }
        EXPECT_EQ(msg.rfind("m.bin: file size " + std::to_string(bytes.size()) +
                                " bytes does not match its llama2.c header",
                            0),
                  0u)
            << msg;
        EXPECT_NE(msg.find("which needs "), std::string::npos) << msg;
      }
    }
  }
}

TEST(Llama2cReader, Stories260KHeaderEditsAreRefused) {
  auto raw = MappedFile::open(kData + "/stories260K.bin");
  ASSERT_TRUE(raw.ok());
  const std::vector<uint8_t> good(raw->data(), raw->data() + raw->size());
  // The bundled checkpoint carries the RoPE tables and a shared classifier: 28 + 4 * (260032
  // weights + 2 * 512 * 4 table floats) bytes.
  EXPECT_EQ(good.size(), 28u + 4u * (260032u + 4096u));
  auto ok = read_bytes(good);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  bool rope_present = false;
  for (const auto& [k, v] : ok->info) rope_present |= k == "llama2c.rope_tables" && v == "present";
  EXPECT_TRUE(rope_present);
  for (int32_t layers = 1; layers <= 4; ++layers) {
    auto b = good;
    std::memcpy(b.data() + 8, &layers, 4);
    auto m = read_bytes(b);
    ASSERT_FALSE(m.ok()) << layers;
    EXPECT_NE(m.status().message().find("file size 1056540 bytes does not match"),
              std::string::npos)
        << m.status().message();
  }
  auto longer = good;
  longer.push_back(0);
  EXPECT_FALSE(read_bytes(longer).ok());
  // vocab 576 makes the file's size exactly right for a checkpoint without RoPE tables (64
  // more embedding rows of 64 = the 4096 table floats): the tables at its end give it away.
  auto vocab = good;
  const int32_t v576 = 576;
  std::memcpy(vocab.data() + 20, &v576, 4);
  auto m = read_bytes(vocab);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "m.bin: the file holds RoPE tables that its llama2.c header leaves no room for: the "
            "header does not describe this file");
  // And a checkpoint saved without the tables loads (they are recomputed anyway).
  auto without = good;
  without.resize(good.size() - 4 * 4096);
  auto w = read_bytes(without);
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->parameter_count(), 260032);
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
  expect_corrupt(with(1, 1 << 24), "does not match its llama2.c header");
  expect_corrupt(with(6, 1 << 24), "does not match its llama2.c header");
  // Sums over 2^24 layers of 2^24-wide matrices overflow 64 bits: still a size mismatch.
  {
    auto b = with(2, 1 << 24);
    const int32_t big = 1 << 24;
    std::memcpy(b.data() + 4, &big, 4);  // hidden_dim
    std::memcpy(b.data(), &big, 4);      // dim (n_heads 2 divides it)
    expect_corrupt(b, "more than 2^64");
  }
  // Truncated weights, including a cut inside the unshared classifier.
  for (size_t cut : {size_t{29}, good.size() / 2, good.size() - 4}) {
    std::vector<uint8_t> b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    expect_corrupt(b, "does not match its llama2.c header");
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
