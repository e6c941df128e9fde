// GGUF models: stories260K.gguf against the same weights in stories260K.bin, the embedded
// vocabulary, Qwen2 specifics (NeoX RoPE, q/k/v biases), quantized tensors decoded on load.
#include <gtest/gtest.h>

#include <cstring>

#include "model/gguf_builder.h"
#include "model/gguf_reader.h"
#include "model/model_loader.h"

namespace dcllm {
namespace {

using testing::GgufBuilder;
const std::string kData = DCLLM_SHARED_DATA;

TEST(GgufReader, Stories260KMatchesTheLlama2cCheckpoint) {
  auto g = load_model(kData + "/stories260K.gguf");
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto b = load_model(kData + "/stories260K.bin");
  ASSERT_TRUE(b.ok()) << b.status().message();
  const ModelConfig &gc = g->config, &bc = b->config;
  EXPECT_EQ(g->format, "GGUF v3");
  EXPECT_EQ(gc.architecture, "llama");
  EXPECT_EQ(gc.dim, bc.dim);
  EXPECT_EQ(gc.hidden_dim, bc.hidden_dim);
  EXPECT_EQ(gc.n_layers, bc.n_layers);
  EXPECT_EQ(gc.n_heads, bc.n_heads);
  EXPECT_EQ(gc.n_kv_heads, bc.n_kv_heads);
  EXPECT_EQ(gc.head_dim, bc.head_dim);
  EXPECT_EQ(gc.vocab_size, bc.vocab_size);
  EXPECT_EQ(gc.seq_len, 2048);  // the converter's default, not the checkpoint's 512
  EXPECT_FLOAT_EQ(gc.norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(gc.rope_theta, 10000.0f);
  EXPECT_EQ(gc.rope_style, RopeStyle::kInterleaved);
  EXPECT_FALSE(gc.tied_classifier);  // the converter wrote output.weight as its own copy
  EXPECT_FALSE(gc.attn_qkv_bias);

  // Every tensor of the checkpoint appears in the GGUF with the same shape and the same floats
  // (the converter keeps llama2.c's interleaved q/k layout), used in place (F32, no copy).
  for (const ModelTensor& bt : b->tensors()) {
    SCOPED_TRACE(bt.name);
    const ModelTensor* gt = g->find(bt.name);
    ASSERT_NE(gt, nullptr);
    EXPECT_EQ(gt->shape, bt.shape);
    EXPECT_EQ(gt->stored_type, "F32");
    EXPECT_TRUE(gt->owned.empty());
    EXPECT_EQ(std::memcmp(gt->data, bt.data, static_cast<size_t>(bt.numel()) * 4), 0);
  }
  EXPECT_EQ(
      std::memcmp(g->find("output.weight")->data, b->find("token_embd.weight")->data, 512 * 64 * 4),
      0);

  ASSERT_TRUE(g->vocab.has_value());
  const Vocab& v = *g->vocab;
  EXPECT_EQ(v.kind, VocabKind::kSentencePiece);
  EXPECT_EQ(v.tokens.size(), 512u);
  EXPECT_EQ(v.scores.size(), 512u);
  EXPECT_EQ(v.types.size(), 512u);
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_FALSE(v.llama2c_pieces);
  EXPECT_EQ(v.types[3], TokenType::kByte);  // <0x00>
  EXPECT_EQ(v.tokens[3], "<0x00>");
}

// A two-layer model of the given architecture with dim 32 (4 heads of 8, 2 kv heads),
// hidden 64, vocab 48; the matrices in `weight_type` (F32, F16 or Q8_0).
std::vector<uint8_t> tiny_model(const std::string& arch, uint32_t weight_type, bool biases,
                                bool tied) {
  GgufBuilder b;
  b.kv_str("general.architecture", arch)
      .kv_u32(arch + ".embedding_length", 32)
      .kv_u32(arch + ".block_count", 2)
      .kv_u32(arch + ".feed_forward_length", 64)
      .kv_u32(arch + ".attention.head_count", 4)
      .kv_u32(arch + ".attention.head_count_kv", 2)
      .kv_u32(arch + ".context_length", 64)
      .kv_f32(arch + ".rope.freq_base", 1000000.0f)
      .kv_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-6f)
      .kv_str("tokenizer.ggml.model", "gpt2");
  std::vector<std::string> tokens;
  for (int i = 0; i < 48; ++i) {
    tokens.emplace_back("t");
    tokens.back() += std::to_string(i);
  }
  b.kv_str_array("tokenizer.ggml.tokens", tokens)
      .kv_str_array("tokenizer.ggml.merges", {"t 1", "t 2"})
      .kv_u32("tokenizer.ggml.bos_token_id", 5)
      .kv_u32("tokenizer.ggml.eos_token_id", 6)
      .kv_bool("tokenizer.ggml.add_bos_token", false);
  auto matrix = [&](const std::string& name, uint64_t in, uint64_t out) {
    const size_t n = in * out;
    if (weight_type == 0) {
      std::vector<float> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = 0.01f * static_cast<float>(i % 17) - 0.08f;
      b.tensor_f32(name, {in, out}, v);
    } else if (weight_type == 1) {
      std::vector<uint8_t> raw(2 * n);
      for (size_t i = 0; i < n; ++i) raw[2 * i + 1] = 0x3C;  // 1.0 in float16
      b.tensor(name, {in, out}, 1, raw);
    } else {
      std::vector<uint8_t> raw(n / 32 * 34, 1);
      for (size_t blk = 0; blk < n / 32; ++blk) {
        raw[blk * 34] = 0x00;
        raw[blk * 34 + 1] = 0x38;  // d = 0.5, every quant 1 -> 0.5
      }
      b.tensor(name, {in, out}, 8, raw);
    }
  };
  auto vec = [&](const std::string& name, uint64_t n) {
    b.tensor_f32(name, {n}, std::vector<float>(n, 1.0f));
  };
  matrix("token_embd.weight", 32, 48);
  vec("output_norm.weight", 32);
  if (!tied) matrix("output.weight", 32, 48);
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    vec(p + "attn_norm.weight", 32);
    matrix(p + "attn_q.weight", 32, 32);
    matrix(p + "attn_k.weight", 32, 16);
    matrix(p + "attn_v.weight", 32, 16);
    if (biases) {
      vec(p + "attn_q.bias", 32);
      vec(p + "attn_k.bias", 16);
      vec(p + "attn_v.bias", 16);
    }
    matrix(p + "attn_output.weight", 32, 32);
    vec(p + "ffn_norm.weight", 32);
    matrix(p + "ffn_gate.weight", 32, 64);
    matrix(p + "ffn_up.weight", 32, 64);
    matrix(p + "ffn_down.weight", 64, 32);
  }
  return b.build();
}

Expected<Model> read(const std::vector<uint8_t>& bytes, bool weights = true) {
  LoadOptions o;
  o.load_weights = weights;
  return read_gguf(ModelSource{"tiny.gguf", bytes, nullptr}, o);
}

TEST(GgufReader, Qwen2UsesNeoxRopeAndBiases) {
  const auto bytes = tiny_model("qwen2", 0, true, true);
  auto m = read(bytes);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const ModelConfig& c = m->config;
  EXPECT_EQ(c.architecture, "qwen2");
  EXPECT_EQ(c.rope_style, RopeStyle::kHalves);
  EXPECT_TRUE(c.attn_qkv_bias);
  EXPECT_TRUE(c.tied_classifier);
  EXPECT_EQ(c.vocab_size, 48);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_FLOAT_EQ(c.rope_theta, 1e6f);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-6f);
  EXPECT_EQ(m->find("blk.0.attn_k.weight")->shape, (std::vector<int64_t>{16, 32}));
  ASSERT_TRUE(m->vocab.has_value());
  EXPECT_EQ(m->vocab->kind, VocabKind::kByteLevelBpe);
  EXPECT_EQ(m->vocab->merges.size(), 2u);
  EXPECT_EQ(m->vocab->bos_id, 5);
  EXPECT_EQ(m->vocab->eos_id, 6);
  EXPECT_FALSE(m->vocab->add_bos);
}

TEST(GgufReader, QuantizedTensorsAreDecodedOnLoad) {
  for (uint32_t type : {1u, 8u}) {
    const auto bytes = tiny_model("llama", type, false, false);
    auto m = read(bytes);
    ASSERT_TRUE(m.ok()) << m.status().message();
    const ModelTensor* w = m->find("blk.1.ffn_down.weight");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->shape, (std::vector<int64_t>{32, 64}));
    EXPECT_EQ(w->stored_type, type == 1 ? "F16" : "Q8_0");
    ASSERT_EQ(w->owned.size(), 32u * 64u);
    EXPECT_EQ(w->data, w->owned.data());
    for (float v : w->owned) ASSERT_EQ(v, type == 1 ? 1.0f : 0.5f);
    EXPECT_EQ(m->config.rope_style, RopeStyle::kInterleaved);
  }
}

TEST(GgufReader, MissingOrBadHyperParameters) {
  {
    GgufBuilder b;
    b.kv_str("general.architecture", "llama");
    auto m = read(b.build());
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("llama.embedding_length"), std::string::npos);
  }
  {
    GgufBuilder b;
    b.kv_str("general.architecture", "llama")
        .kv_u32("llama.embedding_length", 30)
        .kv_u32("llama.block_count", 1)
        .kv_u32("llama.feed_forward_length", 8)
        .kv_u32("llama.attention.head_count", 4);
    auto m = read(b.build());
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("not a multiple"), std::string::npos);
  }
  {
    GgufBuilder b;
    b.kv_str("general.architecture", "gemma");
    auto m = read(b.build());
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
    // inspect still reads an unknown architecture's structure.
    auto shapes = read(b.build(), false);
    ASSERT_TRUE(shapes.ok()) << shapes.status().message();
    EXPECT_EQ(shapes->config.architecture, "gemma");
  }
  {
    GgufBuilder b;
    b.kv_u32("general.alignment", 32);
    auto m = read(b.build());
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("general.architecture"), std::string::npos);
  }
}

// tokenizer.ggml.pre names the byte-level split rule (SmolLM2: "smollm", digits apart); it was
// once ignored, so SmolLM2 and Qwen2 GGUFs split numbers as GPT-2 does.
TEST(GgufReader, PreTokenizerNameIsKept) {
  auto vocab_with = [](auto&& edit) {
    GgufBuilder b;
    b.kv_str("general.architecture", "llama")
        .kv_str("tokenizer.ggml.model", "gpt2")
        .kv_str_array("tokenizer.ggml.tokens", {"a", "b", "1"})
        .kv_str_array("tokenizer.ggml.merges", {"a b"});
    edit(b);
    auto f = parse_gguf(b.build(), "v.gguf");
    EXPECT_TRUE(f.ok());
    return vocab_from_gguf(*f, "v.gguf");
  };
  auto smollm = vocab_with([](GgufBuilder& b) { b.kv_str("tokenizer.ggml.pre", "smollm"); });
  ASSERT_TRUE(smollm.ok()) << smollm.status().message();
  EXPECT_EQ(smollm->pre_tokenizer, "smollm");
  auto none = vocab_with([](GgufBuilder&) {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->pre_tokenizer, "");
  auto bad = vocab_with([](GgufBuilder& b) { b.kv_u32("tokenizer.ggml.pre", 3); });
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tokenizer.ggml.pre is not a string"), std::string::npos);
}

TEST(GgufReader, BadVocabularyMetadata) {
  auto model_with = [](auto&& edit) {
    GgufBuilder b;
    b.kv_str("general.architecture", "llama").kv_str("tokenizer.ggml.model", "llama");
    edit(b);
    return b.build();
  };
  // Only the vocab is checked here: parse the container and call vocab_from_gguf directly.
  auto vocab_error = [](const std::vector<uint8_t>& bytes) -> std::string {
    auto f = parse_gguf(bytes, "v.gguf");
    if (!f.ok()) return f.status().message();
    auto v = vocab_from_gguf(*f, "v.gguf");
    return v.ok() ? "" : v.status().message();
  };
  EXPECT_NE(vocab_error(model_with([](GgufBuilder&) {})).find("tokens is missing"),
            std::string::npos);
  EXPECT_NE(vocab_error(model_with([](GgufBuilder& b) {
              b.kv_str_array("tokenizer.ggml.tokens", {"a", "b"});
              b.kv_array<float>("tokenizer.ggml.scores", 6, {1.0f});
            })).find("scores"),
            std::string::npos);
  EXPECT_NE(vocab_error(model_with([](GgufBuilder& b) {
              b.kv_str_array("tokenizer.ggml.tokens", {"a", "b"});
              b.kv_u32("tokenizer.ggml.bos_token_id", 2);
            })).find("bos_token_id"),
            std::string::npos);
  EXPECT_NE(vocab_error(model_with([](GgufBuilder& b) {
              b.kv_array<int32_t>("tokenizer.ggml.tokens", 5, {1, 2});
            })).find("not an array of strings"),
            std::string::npos);
  EXPECT_EQ(vocab_error(model_with([](GgufBuilder& b) {
              b.kv_str_array("tokenizer.ggml.tokens", {"a", "b"});
              b.kv_u32("tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
              b.kv_u32("tokenizer.ggml.eos_token_id", 0xFFFFFFFFu);
            })),
            "");
}

}  // namespace
}  // namespace dcllm
