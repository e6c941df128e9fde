// The scaling plans of the Hugging Face families leave the float function unchanged: OPT (pre-
// and post-norm, with project_in/out), GPT-2 and Llama fixtures keep their logits within 1e-5
// with every fold applied, LayerNorm biases included, and input_scale tensors where none exists.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "calib/calibrate.h"
#include "model/hf_fixtures.h"
#include "model/model_loader.h"
#include "quant/scaling_plan.h"
#include "runtime/logits_check.h"

namespace dcllm {
namespace {

using testing_logits::logits_of;
using testing_logits::relative_error;

bool changed(const Model& a, const Model& b, const std::string& name) {
  const ModelTensor *x = a.find(name), *y = b.find(name);
  if (!x || !y) return false;
  for (int64_t i = 0; i < x->numel(); ++i)
    if (std::fabs(x->data[i] - y->data[i]) > 1e-4f) return true;
  return false;
}

class HfFoldInvariance : public ::testing::TestWithParam<std::string> {};

TEST_P(HfFoldInvariance, KeepsTheLogits) {
  auto model = load_model(testing_hf::fixture_dir(GetParam()));
  ASSERT_TRUE(model.ok()) << model.status().message();
  const ModelConfig& c = model->config;
  // Calibration on random ids: the folds must be exact whatever the statistics are.
  std::mt19937 rng(7);
  std::vector<int32_t> calib(256);
  for (int32_t& id : calib) id = static_cast<int32_t>(rng() % c.vocab_size);
  CalibrationOptions co;
  co.tokens = 256;
  co.ctx = 64;
  auto stats = calibrate_activations(*model, calib, co);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  auto plan = scaling_plan_for(c);
  ASSERT_TRUE(plan.ok()) << plan.status().message();

  const std::vector<int32_t> tokens(calib.begin() + 3, calib.begin() + 40);
  const std::vector<float> reference = logits_of(*model, tokens);
  for (auto [method, alpha] : {std::pair{ScaleMethod::kDc, 0.5},
                               {ScaleMethod::kDc, 1.0},
                               {ScaleMethod::kSmoothQuant, 0.5}}) {
    SCOPED_TRACE(std::string(scale_method_name(method)) + " alpha " + std::to_string(alpha));
    auto scaled = apply_scaling_plan(*model, *plan, *stats, method, alpha);
    ASSERT_TRUE(scaled.ok()) << scaled.status().message();
    EXPECT_TRUE(changed(*model, scaled->model, "blk.1.attn_q.weight"));
    EXPECT_TRUE(changed(*model, scaled->model, "blk.0.ffn_down.weight"));
    EXPECT_TRUE(changed(*model, scaled->model, "blk.0.attn_output.weight"));
    EXPECT_TRUE(changed(*model, scaled->model, "blk.0.attn_v.weight"));  // o's fold
    if (c.pre_norm) {
      EXPECT_TRUE(changed(*model, scaled->model, "blk.1.attn_norm.weight"));
      if (c.family != ModelFamily::kLlama) {
        EXPECT_TRUE(changed(*model, scaled->model, "blk.1.ffn_norm.bias"));
      }
    } else {
      // Post-norm: the norm output is the residual stream, so the scale stays explicit.
      EXPECT_FALSE(changed(*model, scaled->model, "blk.1.attn_norm.weight"));
      EXPECT_NE(scaled->model.find("blk.1.attn_q.input_scale"), nullptr);
      EXPECT_NE(scaled->model.find("blk.1.ffn_up.input_scale"), nullptr);
    }
    if (c.family == ModelFamily::kGpt2) {
      EXPECT_NE(scaled->model.find("blk.0.ffn_down.input_scale"), nullptr);  // GELU blocks a fold
    }
    if (c.family == ModelFamily::kOpt) {
      EXPECT_TRUE(changed(*model, scaled->model, "blk.0.ffn_up.bias"));  // through ReLU
    }
    EXPECT_LT(relative_error(reference, logits_of(scaled->model, tokens)), 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfFoldInvariance, ::testing::ValuesIn(testing_hf::kHfFixtures),
                         testing_hf::fixture_test_name);

}  // namespace
}  // namespace dcllm
