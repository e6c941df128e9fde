// compress_model end to end on stories260K: the container verifies and follows
// docs/model-container.md, the report adds up, alpha and pruning move the numbers the right way,
// and bad options fail before any output exists.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "compress/compress_model.h"
#include "core/activation_scheme.h"
#include "dcllm/container.h"
#include "model/model_loader.h"
#include "quant/weight_quant.h"
#include "runtime/logits_check.h"
#include "runtime/transformer.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

CompressOptions base_options(const std::string& out_name) {
  CompressOptions o;
  o.model_path = kData + "/stories260K.bin";
  o.tokenizer_path = kData + "/tok512.bin";
  o.calib_path = kData + "/tinystories_valid_head.txt";
  o.output_path = ::testing::TempDir() + out_name;
  o.calib_tokens = 1024;
  o.calib_ctx = 128;
  std::filesystem::remove(o.output_path);
  return o;
}

CompressReport compress_ok(const CompressOptions& o) {
  auto r = compress_model(o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : CompressReport{};
}

TEST(CompressPreset, SetsItsOptionsUnlessGivenExplicitly) {
  CompressOptions o;
  ASSERT_TRUE(apply_preset("accurate", o, nullptr).ok());
  EXPECT_EQ(o.aquant, "block:32");
  EXPECT_EQ(o.alpha, 0.25);
  EXPECT_EQ(o.wlevels, 127);
  CompressOptions small;
  small.alpha = 0.8;
  ASSERT_TRUE(
      apply_preset("small", small, [](std::string_view opt) { return opt == "--alpha"; }).ok());
  EXPECT_EQ(small.alpha, 0.8);  // given on the command line: the preset leaves it
  EXPECT_EQ(small.wlevels, 31);
  EXPECT_EQ(small.rounding, "gptq");
  CompressOptions same;
  ASSERT_TRUE(apply_preset("default", same, nullptr).ok());
  EXPECT_EQ(same.aquant, CompressOptions{}.aquant);
  auto bad = apply_preset("fast", same, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "--preset 'fast': expected default, accurate or small");
}

TEST(CompressModel, WritesAVerifiedContainerByTheContract) {
  const CompressOptions o = base_options("compress_default.dcllm");
  const CompressReport r = compress_ok(o);
  ASSERT_TRUE(std::filesystem::exists(o.output_path));
  EXPECT_TRUE(verify_container(o.output_path).ok());
  auto c = ModelContainer::open(o.output_path);
  ASSERT_TRUE(c.ok()) << c.status().message();

  const auto& m = c->metadata();
  EXPECT_EQ(m["format"], "dcllm-model");
  EXPECT_EQ(m["version"], 1);
  EXPECT_EQ(m["config"]["n_kv_heads"], 4);
  EXPECT_EQ(m["config"]["tied_classifier"], true);
  EXPECT_EQ(m["vocab"]["tokens"].size(), 512u);
  EXPECT_EQ(m["compression"]["scale"], "dc");
  EXPECT_EQ(m["compression"]["alpha"], 0.5);
  EXPECT_EQ(m["compression"]["wquant"], "per-channel");  // the default
  EXPECT_EQ(m["calibration"].size(), 36u);
  EXPECT_EQ(m["calibration"]["blk.0.attn_q"]["tokens"], 1024);
  EXPECT_EQ(m["provenance"]["source"], o.model_path);

  // 5 layers x 7 linears + token_embd are INT8; norms stay f32 raw; no o input_scale needed.
  size_t i8 = 0;
  for (const TensorEntry& t : c->tensors()) {
    if (t.spec.dtype == DType::kI8) {
      ++i8;
      EXPECT_EQ(t.chunks[0].codec, "rans") << t.spec.name;
      // The table is per row whatever --wquant says; the default per-channel does the same.
      EXPECT_EQ(t.spec.quant.scheme, QuantScheme::kPerChannel) << t.spec.name;
    } else {
      EXPECT_EQ(t.spec.dtype, DType::kF32) << t.spec.name;
      EXPECT_EQ(t.chunks[0].codec, "raw") << t.spec.name;
      EXPECT_NE(t.spec.name.find("norm"), std::string::npos) << t.spec.name;
    }
  }
  EXPECT_EQ(i8, 36u);
  ASSERT_EQ(r.tensors.size(), 36u);

  // The report adds up and is sane.
  uint64_t int8 = 0, stored = 0;
  for (const auto& t : r.tensors) {
    int8 += t.int8_bytes;
    stored += t.stored_bytes;
    const TensorEntry& e = c->tensors()[static_cast<size_t>(c->find(t.name))];
    EXPECT_EQ(t.stored_bytes, e.stored_bytes) << t.name;
    EXPECT_EQ(t.int8_bytes, e.raw_bytes) << t.name;
    EXPECT_GT(t.entropy_bits, 0.0);
    EXPECT_LE(t.entropy_bits, 8.0);
  }
  // Entropy and zeros are those of the stored symbols.
  for (const auto& t : {r.tensors[0], r.tensors[5]}) {
    std::vector<uint8_t> q(t.int8_bytes);
    ASSERT_TRUE(c->read_tensor(t.name, q).ok());
    std::vector<double> hist(256, 0.0);
    for (uint8_t v : q) hist[v] += 1;
    double h = 0;
    for (double n : hist) {
      if (n > 0) h -= n / double(q.size()) * std::log2(n / double(q.size()));
    }
    EXPECT_NEAR(t.entropy_bits, h, 1e-9) << t.name;
    EXPECT_EQ(t.zero_fraction(), hist[0] / double(q.size())) << t.name;
  }
  EXPECT_EQ(r.totals.int8_bytes, int8);
  EXPECT_EQ(r.totals.stored_bytes, stored);
  // The coded weights are smaller than INT8; on this tiny model the per-row scales (counted in
  // cr_vs_int8) cost about what coding saves, so the ratio itself is only checked for its sum.
  EXPECT_LT(r.totals.stored_bytes, r.totals.int8_bytes);
  EXPECT_NEAR(r.totals.cr_vs_int8(),
              double(int8) / double(r.totals.stored_bytes + r.totals.scale_bytes), 1e-12);
  EXPECT_NEAR(r.totals.bits_per_weight(), 8.0 / r.totals.cr_vs_int8(), 1e-9);
  EXPECT_EQ(r.file_bytes, std::filesystem::file_size(o.output_path));
  int64_t elements = 0;
  for (const TensorEntry& t : c->tensors()) {
    int64_t n = 1;
    for (uint64_t d : t.spec.shape) n *= static_cast<int64_t>(d);
    elements += n;
  }
  EXPECT_EQ(r.parameters, elements);
  EXPECT_NEAR(r.cr_vs_fp16, 2.0 * double(r.parameters) / double(r.file_bytes), 1e-12);
  EXPECT_EQ(r.calib_tokens_used, 1024);
  EXPECT_EQ(r.calib_windows, 8);

  const auto j = r.to_json();
  for (const char* k : {"model", "output", "settings", "totals", "tensors", "file_bytes",
                        "cr_vs_fp16", "seconds"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  for (const char* k : {"int8_bytes", "stored_bytes", "cr_vs_int8", "bits_per_weight",
                        "entropy_bits", "zero_fraction"}) {
    EXPECT_TRUE(j["totals"].contains(k)) << k;
    EXPECT_TRUE(j["tensors"][0].contains(k)) << k;
  }
}

// A float Model rebuilt from the container alone (INT8 tensors dequantized, f32 ones as stored)
// with the source's config: what a weight-only reader of the contract would run.
Model dequantized_model(const ModelContainer& c, const ModelConfig& config) {
  Model m;
  m.config = config;
  m.path = c.path();
  for (const TensorEntry& e : c.tensors()) {
    ModelTensor t;
    t.name = e.spec.name;
    for (uint64_t d : e.spec.shape) t.shape.push_back(static_cast<int64_t>(d));
    std::vector<uint8_t> raw(e.raw_bytes);
    EXPECT_TRUE(c.read_tensor(e.spec.name, raw).ok());
    if (e.spec.dtype == DType::kF32) {
      t.owned.resize(raw.size() / 4);
      std::memcpy(t.owned.data(), raw.data(), raw.size());
    } else {
      Int8Matrix q;
      q.rows = static_cast<int64_t>(e.spec.shape[0]);
      q.cols = static_cast<int64_t>(e.spec.shape[1]);
      q.values.assign(reinterpret_cast<const int8_t*>(raw.data()),
                      reinterpret_cast<const int8_t*>(raw.data()) + raw.size());
      q.scales = e.spec.quant.scales;
      q.scheme = e.spec.quant.scheme;
      q.group = e.spec.quant.group_size;
      auto w = dequantize_weights_int8(q);
      EXPECT_TRUE(w.ok()) << e.spec.name;
      t.owned = std::move(w).value();
    }
    t.data = t.owned.data();
    m.add_tensor(std::move(t));
  }
  return m;
}

std::vector<float> logits_of(const Model& m) {
  static const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 429, 270, 34, 300, 17};
  return testing_logits::logits_of(m, tokens);
}

using testing_logits::relative_error;

TEST(CompressModel, TheContainerAloneRebuildsTheModel) {
  LoadOptions lo;
  lo.tokenizer_path = kData + "/tok512.bin";
  auto source = load_model(kData + "/stories260K.bin", lo);
  ASSERT_TRUE(source.ok());
  const std::vector<float> reference = logits_of(*source);
  // Weight-only INT8 with the folds stored in the norms and v/up rows: close to the float model.
  std::vector<double> errors;
  for (double alpha : {0.0, 0.5}) {
    CompressOptions o = base_options("compress_rebuild.dcllm");
    o.wquant = "per-channel";
    o.alpha = alpha;
    compress_ok(o);
    auto c = ModelContainer::open(o.output_path);
    ASSERT_TRUE(c.ok());
    errors.push_back(relative_error(reference, logits_of(dequantized_model(*c, source->config))));
  }
  EXPECT_LT(errors[0], 0.03);
  EXPECT_LT(errors[1], 0.03);
  std::printf("rebuilt logits error: alpha 0 %.4f, alpha 0.5 %.4f\n", errors[0], errors[1]);
}

TEST(CompressModel, EveryActivationSchemeLoadsAndRuns) {
  LoadOptions lo;
  lo.tokenizer_path = kData + "/tok512.bin";
  auto source = load_model(kData + "/stories260K.bin", lo);
  ASSERT_TRUE(source.ok());
  const std::vector<float> reference = logits_of(*source);
  std::map<std::string, double> error;
  for (const char* aquant : {"per-token", "per-tensor", "block:32", "none"}) {
    SCOPED_TRACE(aquant);
    CompressOptions o = base_options("compress_aquant.dcllm");
    o.aquant = aquant;
    compress_ok(o);
    auto m = load_model(o.output_path, {});
    ASSERT_TRUE(m.ok()) << m.status().message();
    // Every INT8 weight carries the scheme the file names; the W8A8 forward follows it.
    const ActivationQuant want = *parse_activation_quant(aquant);
    int int8 = 0;
    for (const auto& t : m->tensors()) {
      if (!t.int8) continue;
      ++int8;
      EXPECT_EQ(t.int8->activations, want) << t.name;
    }
    EXPECT_EQ(int8, 36);
    error[aquant] = relative_error(reference, logits_of(*m));
    EXPECT_LT(error[aquant], 0.2);
  }
  // Float activations leave only the weights' error.
  EXPECT_LE(error["none"], error["per-token"]);
  EXPECT_LE(error["none"], error["block:32"]);
}

TEST(CompressModel, LargerAlphaCompressesMore) {
  CompressOptions o = base_options("compress_alpha.dcllm");
  o.scale = "none";
  const double none = compress_ok(o).totals.cr_vs_int8();
  o.scale = "dc";
  o.alpha = 0.5;
  const double half = compress_ok(o).totals.cr_vs_int8();
  o.alpha = 0.9;
  const CompressReport r9 = compress_ok(o);
  EXPECT_LT(none, half);
  EXPECT_LT(half, r9.totals.cr_vs_int8());
  // The entropy bound moves with it: entropy coding tracks the order-0 entropy.
  EXPECT_LT(r9.totals.entropy_bits, 8.0 / half);
}

TEST(CompressModel, PruningGivesExactlyTheRequestedZerosPerRow) {
  for (const char* method : {"dc", "wanda", "magnitude"}) {
    SCOPED_TRACE(method);
    CompressOptions o = base_options(std::string("compress_prune_") + method + ".dcllm");
    o.prune = method;
    o.sparsity = 0.5;
    const CompressReport r = compress_ok(o);
    auto c = ModelContainer::open(o.output_path);
    ASSERT_TRUE(c.ok());
    for (const auto& t : r.tensors) {
      if (t.name == "token_embd.weight") {
        EXPECT_LT(t.zero_fraction(), 0.5);  // tables are not pruned
        continue;
      }
      // Every linear has an even row length (64 or 172): exactly half of each row is zero.
      EXPECT_EQ(t.zero_fraction(), 0.5) << t.name;
      const TensorEntry& e = c->tensors()[static_cast<size_t>(c->find(t.name))];
      std::vector<uint8_t> q(e.raw_bytes);
      ASSERT_TRUE(c->read_tensor(t.name, q).ok());
      const size_t cols = e.spec.shape[1];
      for (size_t row = 0; row < e.spec.shape[0]; ++row) {
        size_t zeros = 0;
        for (size_t j = 0; j < cols; ++j) zeros += q[row * cols + j] == 0;
        ASSERT_EQ(zeros, cols / 2) << t.name << " row " << row;
      }
    }
    // Half of everything but the 512 x 64 embedding table.
    EXPECT_GE(r.totals.zero_fraction(),
              0.5 * double(r.totals.int8_bytes - 512 * 64) / double(r.totals.int8_bytes));
  }
}

TEST(CompressModel, OtherGranularitiesAreStoredAsAsked) {
  CompressOptions o = base_options("compress_group.dcllm");
  o.wquant = "group:32";
  o.scale = "smoothquant";
  o.aquant = "per-tensor";
  compress_ok(o);
  auto c = ModelContainer::open(o.output_path);
  ASSERT_TRUE(c.ok());
  const TensorEntry& e = c->tensors()[static_cast<size_t>(c->find("blk.0.ffn_down.weight"))];
  EXPECT_EQ(e.spec.quant.scheme, QuantScheme::kGroup);
  EXPECT_EQ(e.spec.quant.group_size, 32u);
  EXPECT_EQ(e.spec.quant.scales.size(), 64u * 6u);  // 64 rows x ceil(172 / 32)
  EXPECT_EQ(c->metadata()["compression"]["aquant"], "per-tensor");
  EXPECT_EQ(c->metadata()["compression"]["scale"], "smoothquant");
}

TEST(CompressModel, BadOptionsFailBeforeAnyOutput) {
  const std::string short_text = ::testing::TempDir() + "compress_short.txt";
  std::ofstream(short_text) << "Once upon a time.";
  struct Case {
    const char* what;
    std::function<void(CompressOptions&)> set;
    const char* message;
  };
  const Case cases[] = {
      {"negative alpha", [](CompressOptions& o) { o.alpha = -0.1; }, "alpha"},
      {"smoothquant alpha > 1",
       [](CompressOptions& o) {
         o.scale = "smoothquant";
         o.alpha = 1.2;
       },
       "alpha"},
      {"sparsity 1", [](CompressOptions& o) { o.prune = "dc", o.sparsity = 1.0; }, "parsity"},
      {"negative sparsity", [](CompressOptions& o) { o.prune = "dc", o.sparsity = -0.1; },
       "parsity"},
      {"sparsity without a method", [](CompressOptions& o) { o.sparsity = 0.3; }, "--prune"},
      {"unknown scale", [](CompressOptions& o) { o.scale = "awq"; }, "awq"},
      {"unknown wquant", [](CompressOptions& o) { o.wquant = "group:0"; }, "group"},
      {"unknown aquant", [](CompressOptions& o) { o.aquant = "per-row"; }, "aquant"},
      {"unknown prune", [](CompressOptions& o) { o.prune = "random"; }, "random"},
      {"unknown prune group", [](CompressOptions& o) { o.prune_group = "col"; }, "col"},
      {"unknown codec", [](CompressOptions& o) { o.codec = "gzip9"; }, "gzip9"},
      {"window above the context", [](CompressOptions& o) { o.calib_ctx = 100000; }, "context"},
      {"short text", [&](CompressOptions& o) { o.calib_path = short_text; }, "too short"},
      {"missing text", [](CompressOptions& o) { o.calib_path = "/nonexistent/x.txt"; }, "x.txt"},
      {"zero tokens", [](CompressOptions& o) { o.calib_tokens = 0; }, "calib-tokens"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    CompressOptions o = base_options("compress_bad.dcllm");
    k.set(o);
    auto r = compress_model(o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(k.message), std::string::npos) << r.status().message();
    EXPECT_FALSE(std::filesystem::exists(o.output_path));
  }
}

}  // namespace
}  // namespace dcllm
