// The scaling plan leaves the float function unchanged: stories260K (grouped-query attention)
// with every fold applied gives the original logits within 1e-5, for dc and SmoothQuant scales,
// tied and untied classifiers; unknown families are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "calib/calibrate.h"
#include "model/model_loader.h"
#include "quant/scaling_plan.h"
#include "runtime/logits_check.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

Model load_stories() {
  LoadOptions o;
  o.tokenizer_path = kData + "/tok512.bin";
  auto m = load_model(kData + "/stories260K.bin", o);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return std::move(m).value();
}

std::map<std::string, CalibrationStats> calibrate(const Model& m) {
  std::ifstream in(kData + "/tinystories_valid_head.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  auto tok = tokenizer_for(m);
  EXPECT_TRUE(tok.ok());
  std::vector<int32_t> tokens = tok->encode(ss.str(), true);
  CalibrationOptions o;
  o.tokens = 512;
  o.ctx = 128;
  auto stats = calibrate_activations(m, tokens, o);
  EXPECT_TRUE(stats.ok()) << stats.status().message();
  return std::move(stats).value();
}

const std::vector<int32_t> kTokens = {1, 403, 407, 261, 378, 429, 270, 34, 0, 511, 2, 300, 17};

std::vector<float> logits(const Model& m) {
  return testing_logits::logits_of(m, kTokens);
}

using testing_logits::relative_error;

double max_weight_change(const Model& a, const Model& b, const std::string& name) {
  const ModelTensor *x = a.find(name), *y = b.find(name);
  double d = 0;
  for (int64_t i = 0; i < x->numel(); ++i)
    d = std::max(d, double(std::fabs(x->data[i] - y->data[i])));
  return d;
}

class FoldInvariance : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new Model(load_stories());
    stats_ = new std::map<std::string, CalibrationStats>(calibrate(*model_));
    reference_ = new std::vector<float>(logits(*model_));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete stats_;
    delete reference_;
  }
  static Model* model_;
  static std::map<std::string, CalibrationStats>* stats_;
  static std::vector<float>* reference_;
};
Model* FoldInvariance::model_ = nullptr;
std::map<std::string, CalibrationStats>* FoldInvariance::stats_ = nullptr;
std::vector<float>* FoldInvariance::reference_ = nullptr;

TEST_F(FoldInvariance, CalibrationCoversEveryLinear) {
  // 5 layers x 7 linears + the classifier; 512 tokens in windows of 128.
  ASSERT_EQ(stats_->size(), 36u);
  EXPECT_EQ(stats_->at("blk.0.attn_q").tokens(), 512u);
  EXPECT_EQ(stats_->at("blk.4.ffn_down").channels(), 172u);
  EXPECT_EQ(stats_->at("blk.2.attn_output").channels(), 64u);
  EXPECT_GT(stats_->at("blk.0.attn_q").max_abs()[0], 0.0f);
}

TEST_F(FoldInvariance, NoneCopiesTheModelExactly) {
  auto plan = scaling_plan_for(model_->config);
  ASSERT_TRUE(plan.ok());
  auto scaled = apply_scaling_plan(*model_, *plan, *stats_, ScaleMethod::kNone, 0.5);
  ASSERT_TRUE(scaled.ok()) << scaled.status().message();
  EXPECT_EQ(logits(scaled->model), *reference_);
}

TEST_F(FoldInvariance, DcAndSmoothQuantKeepTheLogits) {
  auto plan = scaling_plan_for(model_->config);
  ASSERT_TRUE(plan.ok());
  ASSERT_LT(model_->config.n_kv_heads, model_->config.n_heads);  // the GQA fold is exercised
  const std::pair<ScaleMethod, double> cases[] = {
      {ScaleMethod::kDc, 0.25},         {ScaleMethod::kDc, 0.5},
      {ScaleMethod::kDc, 0.9},          {ScaleMethod::kDc, 1.5},
      {ScaleMethod::kSmoothQuant, 0.3}, {ScaleMethod::kSmoothQuant, 0.5},
      {ScaleMethod::kSmoothQuant, 0.85}};
  for (auto [method, alpha] : cases) {
    SCOPED_TRACE(std::string(scale_method_name(method)) + " alpha " + std::to_string(alpha));
    auto scaled = apply_scaling_plan(*model_, *plan, *stats_, method, alpha);
    ASSERT_TRUE(scaled.ok()) << scaled.status().message();
    // The folds really changed the weights and norms...
    for (const char* name : {"blk.0.attn_q.weight", "blk.1.attn_v.weight", "blk.2.ffn_up.weight",
                             "blk.3.ffn_down.weight", "blk.4.attn_output.weight",
                             "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight"}) {
      EXPECT_GT(max_weight_change(*model_, scaled->model, name), 1e-3) << name;
    }
    // ...the tied classifier did not, and its scale is 1...
    EXPECT_EQ(max_weight_change(*model_, scaled->model, "token_embd.weight"), 0.0);
    for (float s : scaled->scales.at("output")) EXPECT_EQ(s, 1.0f);
    // ...grouped-query heads sharing a v row share o's scale (8 heads over 4 kv heads)...
    const auto& so = scaled->scales.at("blk.1.attn_output");
    const size_t hd = static_cast<size_t>(model_->config.head_dim);
    for (size_t d = 0; d < hd; ++d) EXPECT_EQ(so[0 * hd + d], so[1 * hd + d]);
    // ...and the function is the same.
    EXPECT_LT(relative_error(*reference_, logits(scaled->model)), 1e-5);
  }
}

TEST_F(FoldInvariance, UntiedClassifierFoldsIntoTheFinalNorm) {
  auto plan = scaling_plan_for(model_->config);
  ASSERT_TRUE(plan.ok());
  // An untied copy: output.weight = token_embd.weight, same logits.
  auto copy = apply_scaling_plan(*model_, *plan, *stats_, ScaleMethod::kNone, 0.0);
  ASSERT_TRUE(copy.ok());
  Model& untied = copy->model;
  untied.config.tied_classifier = false;
  const ModelTensor* emb = untied.find("token_embd.weight");
  ModelTensor out;
  out.name = "output.weight";
  out.shape = emb->shape;
  out.stored_type = "F32";
  out.owned.assign(emb->data, emb->data + emb->numel());
  out.data = out.owned.data();
  untied.add_tensor(std::move(out));
  ASSERT_EQ(logits(untied), *reference_);

  auto untied_stats = calibrate(untied);  // the classifier now sees every token
  EXPECT_EQ(untied_stats.at("output").tokens(), 512u);
  auto plan2 = scaling_plan_for(untied.config);
  ASSERT_TRUE(plan2.ok());
  auto scaled = apply_scaling_plan(untied, *plan2, untied_stats, ScaleMethod::kDc, 0.8);
  ASSERT_TRUE(scaled.ok()) << scaled.status().message();
  EXPECT_GT(max_weight_change(untied, scaled->model, "output.weight"), 1e-3);
  EXPECT_GT(max_weight_change(untied, scaled->model, "output_norm.weight"), 1e-3);
  EXPECT_EQ(max_weight_change(untied, scaled->model, "token_embd.weight"), 0.0);
  EXPECT_LT(relative_error(*reference_, logits(scaled->model)), 1e-5);
}

TEST_F(FoldInvariance, RefusesBadInputs) {
  auto plan = scaling_plan_for(model_->config);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(apply_scaling_plan(*model_, *plan, *stats_, ScaleMethod::kDc, -0.5).ok());
  EXPECT_FALSE(apply_scaling_plan(*model_, *plan, *stats_, ScaleMethod::kSmoothQuant, 1.5).ok());
  std::map<std::string, CalibrationStats> missing = *stats_;
  missing.erase("blk.3.ffn_gate");
  auto r = apply_scaling_plan(*model_, *plan, missing, ScaleMethod::kDc, 0.5);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("blk.3.ffn_gate"), std::string::npos);

  ModelConfig other = model_->config;
  other.family = static_cast<ModelFamily>(99);
  other.architecture = "opt";
  auto p = scaling_plan_for(other);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("opt"), std::string::npos);
}

TEST(CalibrationWindows, CutsTheTextAndRefusesShortOnes) {
  ModelConfig c;
  c.seq_len = 512;
  std::vector<int32_t> tokens(1000, 5);  // BOS + 999 text tokens
  CalibrationOptions o;
  o.ctx = 256;
  o.tokens = 600;
  auto w = plan_calibration_windows(c, tokens, o);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->windows, 3);  // 256 + 256 + 88
  EXPECT_EQ(w->tokens, 600);
  o.tokens = 1 << 20;  // the text runs out first: 999 text tokens in windows of 255
  w = plan_calibration_windows(c, tokens, o);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->windows, 4);
  EXPECT_EQ(w->tokens, 999 + 4);
  o.ctx = 1001;
  EXPECT_FALSE(plan_calibration_windows(c, tokens, o).ok());  // above seq_len
  c.seq_len = 2048;
  auto shortw = plan_calibration_windows(c, tokens, o);  // 999 < 1000 text tokens
  ASSERT_FALSE(shortw.ok());
  EXPECT_NE(shortw.status().message().find("too short"), std::string::npos);
  o.ctx = 1;
  EXPECT_FALSE(plan_calibration_windows(c, tokens, o).ok());
}

}  // namespace
}  // namespace dcllm
