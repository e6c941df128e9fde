// GgufWriter and export_gguf: what is written parses back to the same metadata, shapes and
// bytes; fp16 and Q8_0 encode as GGML defines them; an exported model computes the same logits.
#include "model/gguf_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/mapped_file.h"
#include "model/gguf_dequant.h"
#include "model/gguf_export.h"
#include "model/gguf_reader.h"
#include "model/model_loader.h"
#include "runtime/transformer.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

// A file name of this process's own (other build trees may run the suite at the same time).
std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + std::to_string(::getpid()) + "_" + name;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Fp16, EveryHalfValueRoundTrips) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(bits));
    const uint16_t back = f32_to_fp16(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(back))) << bits;
    } else {
      EXPECT_EQ(back, bits) << bits;
    }
  }
}

TEST(Fp16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_fp16(1.0f + 0x1p-11f), 0x3C00);      // tie: down to even 1.0
  EXPECT_EQ(f32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3C02);  // tie: up to even
  EXPECT_EQ(f32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);
  EXPECT_EQ(f32_to_fp16(65519.0f), 0x7BFF);  // 65504, the largest half
  EXPECT_EQ(f32_to_fp16(65520.0f), 0x7C00);  // rounds past it: infinity
  EXPECT_EQ(f32_to_fp16(-1e9f), 0xFC00);
  EXPECT_EQ(f32_to_fp16(0x1p-25f), 0x0000);      // half the smallest subnormal: to even 0
  EXPECT_EQ(f32_to_fp16(0x1p-25f * 3), 0x0002);  // 1.5 subnormal steps: to even 2
  EXPECT_EQ(f32_to_fp16(-0.0f), 0x8000);
}

TEST(Q8_0, MatchesTheGgmlLayoutAndDequantizesClose) {
  std::vector<float> x(64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i)) * (i < 32 ? 1 : 8);
  std::vector<uint8_t> q(2 * 34);
  quantize_row_q8_0(x.data(), x.size(), q.data());
  std::vector<float> back(x.size());
  dequantize(GgmlType::kQ8_0, q.data(), x.size(), back.data());
  for (size_t b = 0; b < 2; ++b) {
    uint16_t d16;
    std::memcpy(&d16, q.data() + 34 * b, 2);
    const float d = fp16_to_fp32(d16);
    float amax = 0;
    for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[32 * b + i]));
    EXPECT_NEAR(d, amax / 127, amax / 127 * 1e-3);
    for (size_t i = 0; i < 32; ++i) EXPECT_NEAR(back[32 * b + i], x[32 * b + i], d * 0.51f);
  }
  // An all-zero block has scale 0 and zero values.
  std::vector<float> zeros(32, 0.0f);
  quantize_row_q8_0(zeros.data(), 32, q.data());
  EXPECT_TRUE(std::all_of(q.begin(), q.begin() + 34, [](uint8_t b) { return b == 0; }));
}

TEST(GgufWriter, WhatIsWrittenParsesBack) {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 7);
  w.add_i32("x.signed", -3);
  w.add_f32("x.float", 0.25f);
  w.add_bool("x.flag", true);
  w.add_strings("x.strings", {"a", "", "ccc"});
  w.add_f32s("x.floats", {1.5f, -2.0f});
  w.add_i32s("x.ints", {4, 5, 6});
  const std::vector<float> vals = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(w.add_tensor("t.f32", {2, 3}, GgmlType::kF32, [&](std::vector<uint8_t>& out) {
                 std::memcpy(out.data(), vals.data(), out.size());
                 return Status::Ok();
               }).ok());
  ASSERT_TRUE(w.add_tensor("t.q8", {1, 32}, GgmlType::kQ8_0, [](std::vector<uint8_t>& out) {
                 EXPECT_EQ(out.size(), 34u);
                 for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i);
                 return Status::Ok();
               }).ok());
  EXPECT_FALSE(w.add_tensor("t.f32", {1}, GgmlType::kF32, nullptr).ok());     // twice
  EXPECT_FALSE(w.add_tensor("bad", {3, 30}, GgmlType::kQ8_0, nullptr).ok());  // not whole blocks

  const std::string path = temp_path("gguf_writer_test.gguf");
  ASSERT_TRUE(w.write(path).ok());
  const std::vector<uint8_t> bytes = read_all(path);
  auto f = parse_gguf(bytes, path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->version, 3u);
  EXPECT_EQ(f->find("general.architecture")->str, "llama");
  int64_t n = 0;
  ASSERT_TRUE(f->find("llama.block_count")->as_int64(&n));
  EXPECT_EQ(n, 7);
  EXPECT_EQ(f->find("x.signed")->i, -3);
  EXPECT_EQ(f->find("x.float")->f, 0.25);
  EXPECT_EQ(f->find("x.flag")->u, 1u);
  ASSERT_EQ(f->find("x.strings")->items.size(), 3u);
  EXPECT_EQ(f->find("x.strings")->items[2].str, "ccc");
  EXPECT_EQ(f->find("x.floats")->count, 2u);
  EXPECT_EQ(f->find("x.ints")->packed_element(2).i, 6);
  ASSERT_EQ(f->tensors.size(), 2u);
  EXPECT_EQ(f->tensors[0].ne, (std::vector<uint64_t>{3, 2}));  // GGML order: innermost first
  EXPECT_EQ(f->tensors[1].offset % 32, 0u);
  float got[6];
  std::memcpy(got, bytes.data() + f->data_offset + f->tensors[0].offset, sizeof got);
  EXPECT_EQ(std::vector<float>(got, got + 6), vals);
  EXPECT_EQ(bytes[f->data_offset + f->tensors[1].offset + 33], 33);
  std::filesystem::remove(path);
}

TEST(GgufWriter, AFailingProducerLeavesNoFile) {
  GgufWriter w;
  ASSERT_TRUE(w.add_tensor("t", {4}, GgmlType::kF32, [](std::vector<uint8_t>&) {
                 return Internal("no data");
               }).ok());
  const std::string path = temp_path("gguf_writer_fail.gguf");
  std::filesystem::remove(path);
  EXPECT_FALSE(w.write(path).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
}

// Logits of the first tokens of a fixed text, for comparing two models.
std::vector<float> logits_of(const Model& m, const std::vector<int32_t>& tokens) {
  TransformerOptions o;
  o.max_seq = 32;
  auto t = Transformer::create(m, o);
  EXPECT_TRUE(t.ok()) << t.status().message();
  if (!t.ok()) return {};
  auto l = t->forward(tokens, 0);
  EXPECT_TRUE(l.ok());
  return l.ok() ? std::vector<float>(l->begin(), l->end()) : std::vector<float>{};
}

TEST(GgufExport, Stories260KReadsBackAsTheSameModel) {
  LoadOptions load;
  load.tokenizer_path = kData + "/tok512.bin";
  auto src = load_model(kData + "/stories260K.bin", load);
  ASSERT_TRUE(src.ok()) << src.status().message();
  const std::string out = temp_path("stories260K_export.gguf");
  GgufExportOptions opts;
  auto report = export_gguf(*src, out, opts);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->architecture, "llama");
  // ffn_down's rows (172 wide) are not whole Q8_0 blocks: F16; norms F32.
  EXPECT_GT(report->q8_0_tensors, 0);
  EXPECT_EQ(report->f16_tensors, src->config.n_layers);
  EXPECT_GT(report->f32_tensors, 0);

  auto back = load_model(out);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->config.dim, src->config.dim);
  EXPECT_EQ(back->config.n_kv_heads, src->config.n_kv_heads);
  EXPECT_EQ(back->config.seq_len, src->config.seq_len);
  EXPECT_EQ(back->find("blk.0.ffn_down.weight")->stored_type, "F16");
  EXPECT_EQ(back->find("blk.0.attn_q.weight")->stored_type, "Q8_0");

  // The vocabulary is written as llama.cpp's converter writes it (the bundled GGUF).
  auto ref = load_model(kData + "/stories260K.gguf");
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(back->vocab && ref->vocab);
  EXPECT_EQ(back->vocab->tokens, ref->vocab->tokens);
  EXPECT_EQ(back->vocab->types, ref->vocab->types);
  auto tok_src = tokenizer_for(*src);
  auto tok_back = tokenizer_for(*back);
  ASSERT_TRUE(tok_src.ok() && tok_back.ok());
  const std::string text = "Once upon a time, there was a little girl named Lily.";
  const auto ids = tok_src->encode(text, true);
  EXPECT_EQ(tok_back->encode(text, true), ids);

  const auto a = logits_of(*src, ids), b = logits_of(*back, ids);
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(a[i] - b[i])));
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(a[i])));
  }
  EXPECT_LT(max_diff, 0.02 * max_abs);  // Q8_0 rounding only
  std::filesystem::remove(out);
}

TEST(GgufExport, HuggingFaceLlamaRotatesTheSameAfterThePermutation) {
  // HF q/k rows rotate halves; the export permutes them for llama.cpp's interleaved `llama`.
  // Reading the GGUF back (interleaved) must give the same logits as the HF model (halves).
  auto src = load_model(std::string(DCLLM_TEST_DATA) + "/hf/llama");
  ASSERT_TRUE(src.ok()) << src.status().message();
  ASSERT_EQ(src->config.rope_style, RopeStyle::kHalves);
  const std::string out = temp_path("hf_llama_export.gguf");
  GgufExportOptions f16;
  f16.q8_0 = false;  // F16 keeps the comparison tight
  ASSERT_TRUE(export_gguf(*src, out, f16).ok());
  auto back = load_model(out);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->config.rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(back->config.rope_theta, src->config.rope_theta);
  const std::vector<int32_t> ids = {1, 17, 200, 33, 4, 90, 91, 300};
  const auto a = logits_of(*src, ids), b = logits_of(*back, ids);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 2e-2) << i;
  std::filesystem::remove(out);
}

TEST(GgufExport, RefusesWhatLlamaCppCannotRun) {
  auto opt = load_model(std::string(DCLLM_TEST_DATA) + "/hf/opt");
  ASSERT_TRUE(opt.ok()) << opt.status().message();
  auto r = export_gguf(*opt, temp_path("opt.gguf"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("opt"), std::string::npos);
  LoadOptions no_vocab;
  auto bare = load_model(kData + "/stories260K.bin", no_vocab);
  ASSERT_TRUE(bare.ok());
  ASSERT_FALSE(bare->vocab.has_value());  // no tokenizer.bin beside it
  auto none = export_gguf(*bare, temp_path("bare.gguf"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no vocabulary"), std::string::npos);
}

}  // namespace
}  // namespace dcllm
