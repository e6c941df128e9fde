// The W8A8 path end to end: an INT8 Linear agrees with the float one within quantization error,
// and stories260K written as a per-tensor RTN INT8 .dcllm loads, keeps its perplexity within a
// few percent, generates the float model's text start, and refuses a corrupted chunk.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "../container/container_test_files.h"
#include "eval/perplexity.h"
#include "model/dcllm_model_reader.h"
#include "model/model_loader.h"
#include "quant/quantize_int8.h"
#include "rtn_int8_container.h"
#include "runtime/generate.h"
#include "runtime/linear.h"
#include "runtime/transformer.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

std::vector<float> random_floats(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(Int8Linear, MatchesFloatLinearWithinQuantizationError) {
  const int64_t out = 48, in = 96;
  const size_t rows = 5;
  const auto w = random_floats(static_cast<size_t>(out * in), 0.05f, 1);
  const auto b = random_floats(static_cast<size_t>(out), 0.1f, 2);
  const auto x = random_floats(rows * static_cast<size_t>(in), 1.0f, 3);
  const auto in_scale = random_floats(static_cast<size_t>(in), 0.3f, 4);

  std::vector<int8_t> q(w.size());
  const float scale = quantize_int8_per_tensor(w, q);
  Int8MatrixView iw{{QuantScheme::kPerTensor, static_cast<int64_t>(out), static_cast<int64_t>(in), 0},
                    q.data(), &scale};
  for (bool with_input_scale : {false, true}) {
    std::vector<float> xs = x;
    if (with_input_scale)
      for (size_t i = 0; i < xs.size(); ++i) xs[i] *= in_scale[i % static_cast<size_t>(in)];
    const Linear lf = Linear::f32("f", w.data(), b.data(), out, in);
    const Linear li = Linear::int8("i", iw, b.data(), with_input_scale ? in_scale.data() : nullptr);
    EXPECT_TRUE(li.is_int8());
    std::vector<float> yf(rows * static_cast<size_t>(out)), yi(yf.size());
    ASSERT_TRUE(lf.forward(xs.data(), rows, yf.data(), 1).ok());
    ASSERT_TRUE(li.forward(x.data(), rows, yi.data(), 2).ok());
    double err = 0, ref = 0;
    for (size_t i = 0; i < yf.size(); ++i) {
      err += (yf[i] - yi[i]) * (yf[i] - yi[i]);
      ref += yf[i] * yf[i];
    }
    // Two 8-bit roundings: the relative RMS error stays around a percent, never 0 or 100%.
    EXPECT_LT(std::sqrt(err / ref), 0.03) << "input_scale " << with_input_scale;
    EXPECT_GT(err, 0.0);
  }
}

struct Fixture {
  Model f32;
  Model w8a8;
  Tokenizer tokenizer;
};

class W8A8Model : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    path_ = dir_->file("stories260K.dcllm");
    auto m = testing::stories260k_with_rtn_container(path_);
    ASSERT_TRUE(m.ok()) << m.status().message();
    float_ = new Model(std::move(m).value());
  }
  static void TearDownTestSuite() {
    delete float_;
    delete dir_;
  }

  static std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static double perplexity(const Model& m) {
    auto tok = tokenizer_for(m);
    EXPECT_TRUE(tok.ok()) << tok.status().message();
    TransformerOptions to;
    to.max_seq = 128;
    auto t = Transformer::create(m, to);
    EXPECT_TRUE(t.ok()) << t.status().message();
    PerplexityOptions po;
    po.ctx = 128;
    po.max_windows = 4;
    auto r = evaluate_perplexity(
        *t, tok->encode(read_text(kData + "/tinystories_valid_head.txt"), true), po);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r->ppl();
  }

  static std::vector<int32_t> greedy(const Model& m, int64_t n) {
    auto tok = tokenizer_for(m);
    EXPECT_TRUE(tok.ok());
    TransformerOptions to;
    to.max_seq = 128;
    auto t = Transformer::create(m, to);
    EXPECT_TRUE(t.ok()) << t.status().message();
    GenerateOptions g;
    g.max_new_tokens = n;
    g.temperature = 0.0f;
    std::vector<int32_t> out;
    auto s = generate_tokens(*t, tok->encode("Once upon a time", true), g, -1, -1,
                             [&](int32_t, int32_t next) { out.push_back(next); });
    EXPECT_TRUE(s.ok()) << s.status().message();
    return out;
  }

  static testing::ScratchDir* dir_;
  static std::string path_;
  static Model* float_;
};

testing::ScratchDir* W8A8Model::dir_ = nullptr;
std::string W8A8Model::path_;
Model* W8A8Model::float_ = nullptr;

TEST_F(W8A8Model, LoadsAsInt8WithConfigAndVocab) {
  auto m = load_model(path_);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->config.dim, float_->config.dim);
  EXPECT_EQ(m->config.n_layers, float_->config.n_layers);
  ASSERT_TRUE(m->vocab.has_value());
  EXPECT_EQ(m->vocab->tokens, float_->vocab->tokens);
  const ModelTensor* q = m->find("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  ASSERT_NE(q->int8, nullptr);
  EXPECT_EQ(q->data, nullptr);
  EXPECT_EQ(q->int8->scheme, QuantScheme::kPerTensor);
  const ModelTensor* e = m->find("token_embd.weight");
  ASSERT_NE(e, nullptr);
  ASSERT_NE(e->int8, nullptr);
  EXPECT_EQ(e->int8->scheme, QuantScheme::kPerChannel);
  const ModelTensor* norm = m->find("blk.0.attn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->int8, nullptr);
  ASSERT_NE(norm->data, nullptr);
  EXPECT_EQ(norm->data[3], float_->find("blk.0.attn_norm.weight")->data[3]);
  // Every linear of the forward pass runs on INT8.
  auto t = Transformer::create(*m);
  ASSERT_TRUE(t.ok()) << t.status().message();
  for (const Linear* l : t->linears()) EXPECT_TRUE(l->is_int8()) << l->name();
}

TEST_F(W8A8Model, PerplexityWithinAFewPercentOfFloat) {
  auto m = load_model(path_);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const double pf = perplexity(*float_), pq = perplexity(*m);
  EXPECT_GT(pf, 1.0);
  EXPECT_LT(std::abs(pq - pf) / pf, 0.05) << "float " << pf << " w8a8 " << pq;
  // Dequantized back to float, the same weights run the float path and land close too.
  dequantize_int8_tensors(*m);
  const double pd = perplexity(*m);
  EXPECT_LT(std::abs(pd - pf) / pf, 0.05) << "float " << pf << " dequantized " << pd;
  EXPECT_NE(pd, pq);  // the float path really ran: activations were not quantized
}

TEST_F(W8A8Model, GreedyGenerationStartsLikeFloat) {
  auto m = load_model(path_);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const auto a = greedy(*float_, 24), b = greedy(*m, 24);
  ASSERT_EQ(a.size(), 24u);
  ASSERT_EQ(b.size(), 24u);
  size_t same = 0;
  while (same < a.size() && a[same] == b[same]) ++same;
  EXPECT_GE(same, 12u) << "the first " << same << " tokens agree";
}

TEST_F(W8A8Model, CorruptedChunkIsRefusedNamingFileTensorAndChunk) {
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const ptrdiff_t ti = c->find("blk.1.ffn_up.weight");
  ASSERT_GE(ti, 0);
  const TensorEntry& e = c->tensors()[static_cast<size_t>(ti)];
  ASSERT_GE(e.chunks.size(), 1u);
  const uint64_t at = e.chunks.back().offset + e.chunks.back().stored_size / 2;
  auto bytes = testing::read_bytes(path_);
  bytes[at] ^= 0x5a;
  const std::string bad = dir_->file("corrupt.dcllm");
  testing::write_bytes(bad, bytes);

  auto m = load_model(bad);
  ASSERT_FALSE(m.ok());
  const std::string msg = m.status().message();
  EXPECT_NE(msg.find("corrupt.dcllm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("blk.1.ffn_up.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("chunk"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  // Shapes only (inspect) does not decode, so it still reads the file.
  LoadOptions shapes;
  shapes.load_weights = false;
  EXPECT_TRUE(load_model(bad, shapes).ok());
}

TEST_F(W8A8Model, RefusesAContainerThatHoldsNoModel) {
  const std::string other = dir_->file("plain.dcllm");
  auto w = ContainerWriter::create(other, {{"hello", 1}});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->finish().ok());
  auto m = load_model(other);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("dcllm-model"), std::string::npos) << m.status().message();
}

}  // namespace
}  // namespace dcllm
