// Hugging Face checkpoints end to end: config.json parsing (supported and refused features), and
// dcllm's float32 logits on the transformers-made fixtures against the reference logits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "model/hf_config.h"
#include "model/hf_fixtures.h"
#include "model/model_loader.h"
#include "runtime/transformer.h"

namespace dcllm {
namespace {

using testing_hf::fixture_dir;

TEST(HfConfig, ReadsEachFamily) {
  auto llama = parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
      "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 128,
      "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "rope_scaling": null})",
                               "l/config.json");
  ASSERT_TRUE(llama.ok()) << llama.status().message();
  EXPECT_EQ(llama->config.family, ModelFamily::kLlama);
  EXPECT_EQ(llama->config.head_dim, 16);
  EXPECT_EQ(llama->config.n_kv_heads, 2);
  EXPECT_EQ(llama->config.rope_style, RopeStyle::kHalves);
  EXPECT_FLOAT_EQ(llama->config.rope_theta, 500000.0f);
  EXPECT_FALSE(llama->config.tied_classifier);

  auto qwen = parse_hf_config(R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
      "vocab_size": 300, "tie_word_embeddings": true, "use_sliding_window": false,
      "sliding_window": 32})",
                              "q/config.json");
  ASSERT_TRUE(qwen.ok()) << qwen.status().message();
  EXPECT_TRUE(qwen->config.attn_qkv_bias);
  EXPECT_TRUE(qwen->config.tied_classifier);
  EXPECT_EQ(qwen->config.seq_len, 2048);  // the window is off, so it does not cap the context

  auto mistral = parse_hf_config(R"({"architectures": ["MistralForCausalLM"], "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
      "vocab_size": 300, "max_position_embeddings": 32768, "sliding_window": 4096})",
                                 "m/config.json");
  ASSERT_TRUE(mistral.ok()) << mistral.status().message();
  EXPECT_EQ(mistral->config.seq_len, 4096);

  auto opt = parse_hf_config(R"({"architectures": ["OPTForCausalLM"], "hidden_size": 64,
      "ffn_dim": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 300,
      "max_position_embeddings": 128, "word_embed_proj_dim": 32,
      "do_layer_norm_before": false, "activation_function": "relu"})",
                             "o/config.json");
  ASSERT_TRUE(opt.ok()) << opt.status().message();
  EXPECT_EQ(opt->config.family, ModelFamily::kOpt);
  EXPECT_EQ(opt->config.embedding_width(), 32);
  EXPECT_FALSE(opt->config.pre_norm);
  EXPECT_EQ(opt->config.activation, Activation::kRelu);
  EXPECT_TRUE(opt->config.tied_classifier);

  auto gpt2 = parse_hf_config(R"({"architectures": ["GPT2LMHeadModel"], "n_embd": 64,
      "n_layer": 2, "n_head": 4, "n_inner": null, "vocab_size": 300, "n_positions": 128})",
                              "g/config.json");
  ASSERT_TRUE(gpt2.ok()) << gpt2.status().message();
  EXPECT_EQ(gpt2->config.hidden_dim, 256);
  EXPECT_EQ(gpt2->config.activation, Activation::kGeluTanh);
  EXPECT_EQ(gpt2->config.head_dim, 16);
}

TEST(HfConfig, RefusesWhatItCannotRun) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"architectures": ["FalconForCausalLM"]})", "FalconForCausalLM"},
      {R"({"architectures": []})", "architectures"},
      {R"([1, 2])", "not a JSON object"},
      {R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64})", "intermediate_size"},
      {R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
          "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 300,
          "rope_scaling": {"rope_type": "llama3", "factor": 8.0}})",
       "rope_scaling"},
      {R"({"architectures": ["LlamaForCausalLM"], "hidden_size": -64})", "hidden_size"},
      {R"({"architectures": ["GPT2LMHeadModel"], "n_embd": 64, "n_layer": 2, "n_head": 4,
          "vocab_size": 300, "scale_attn_by_inverse_layer_idx": true})",
       "scale_attn_by_inverse_layer_idx"},
      {R"({"architectures": ["OPTForCausalLM"], "hidden_size": 64, "ffn_dim": 256,
          "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 300,
          "activation_function": "swiglu_v9"})",
       "swiglu_v9"},
  };
  for (auto [json, fault] : cases) {
    auto c = parse_hf_config(json, "x/config.json");
    ASSERT_FALSE(c.ok()) << json;
    EXPECT_NE(c.status().message().find("x/config.json"), std::string::npos);
    EXPECT_NE(c.status().message().find(fault), std::string::npos) << c.status().message();
  }
  auto falcon = parse_hf_config(R"({"architectures": ["FalconForCausalLM"]})", "c.json");
  EXPECT_NE(falcon.status().message().find("GPT2LMHeadModel"), std::string::npos)
      << "the error lists the supported architectures";
}

class HfReferenceLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(HfReferenceLogits, MatchTransformers) {
  const testing_hf::HfReference ref = testing_hf::load_reference(GetParam());
  auto model = load_model(fixture_dir(GetParam()));
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(model->format, "safetensors");
  ASSERT_EQ(model->config.vocab_size, ref.vocab);
  TransformerOptions o;
  o.max_seq = ref.seq_len;
  for (size_t s = 0; s < ref.sequences.size(); ++s) {
    auto t = Transformer::create(*model, o);
    ASSERT_TRUE(t.ok()) << t.status().message();
    ASSERT_EQ(static_cast<int64_t>(ref.sequences[s].size()), ref.seq_len);
    // The whole sequence as one batch, and again token by token through the KV cache.
    auto all = t->forward(ref.sequences[s], 0, true);
    ASSERT_TRUE(all.ok()) << all.status().message();
    const float* expected = &ref.logits[s * static_cast<size_t>(ref.seq_len * ref.vocab)];
    const double err = testing_hf::max_relative_error(expected, all->data(), all->size());
    EXPECT_LT(err, 1e-4) << GetParam() << " sequence " << s;
    char text[32];
    std::snprintf(text, sizeof text, "%.2e", err);
    RecordProperty("max_relative_error_" + std::to_string(s), text);
    auto step = Transformer::create(*model, o);
    ASSERT_TRUE(step.ok());
    for (int64_t p = 0; p < ref.seq_len; ++p) {
      auto l = step->forward(std::span(&ref.sequences[s][static_cast<size_t>(p)], 1), p);
      ASSERT_TRUE(l.ok());
      EXPECT_LT(testing_hf::max_relative_error(expected + p * ref.vocab, l->data(), l->size()),
                1e-4)
          << GetParam() << " sequence " << s << " position " << p;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfReferenceLogits, ::testing::ValuesIn(testing_hf::kHfFixtures),
                         testing_hf::fixture_test_name);

TEST(HfCheckpoint, HalfPrecisionLoadsTheSameValues) {
  auto f32 = load_model(fixture_dir("llama"));
  ASSERT_TRUE(f32.ok()) << f32.status().message();
  for (const char* variant : {"llama-f16", "llama-bf16"}) {
    auto half = load_model(fixture_dir(variant));
    ASSERT_TRUE(half.ok()) << half.status().message();
    ASSERT_EQ(half->tensors().size(), f32->tensors().size());
    for (const ModelTensor& t : f32->tensors()) {
      const ModelTensor* h = half->find(t.name);
      ASSERT_NE(h, nullptr) << variant << " " << t.name;
      EXPECT_EQ(h->stored_type, std::string(variant) == "llama-f16" ? "F16" : "BF16");
      ASSERT_EQ(h->shape, t.shape);
      for (int64_t i = 0; i < t.numel(); ++i)
        ASSERT_EQ(h->data[i], t.data[i]) << variant << " " << t.name << "[" << i << "]";
    }
  }
}

TEST(HfCheckpoint, NamesAndShapesAreCanonical) {
  LoadOptions shapes_only;
  shapes_only.load_weights = false;
  auto gpt2 = load_model(fixture_dir("gpt2"), shapes_only);
  ASSERT_TRUE(gpt2.ok()) << gpt2.status().message();
  const int64_t D = gpt2->config.dim;
  // Conv1D [in, out] became [out, in]; c_attn became three [D, D] projections.
  EXPECT_EQ(gpt2->find("blk.0.attn_q.weight")->shape, (std::vector<int64_t>{D, D}));
  EXPECT_EQ(gpt2->find("blk.1.ffn_up.weight")->shape,
            (std::vector<int64_t>{gpt2->config.hidden_dim, D}));
  EXPECT_EQ(gpt2->find("blk.0.attn_q.weight")->data, nullptr);
  EXPECT_TRUE(gpt2->config.tied_classifier);

  auto opt = load_model(fixture_dir("opt-proj") + "/config.json", shapes_only);
  ASSERT_TRUE(opt.ok()) << opt.status().message();
  EXPECT_EQ(opt->find("pos_embd.weight")->shape,
            (std::vector<int64_t>{opt->config.seq_len, opt->config.dim}));
  EXPECT_NE(opt->find("proj_in.weight"), nullptr);
  EXPECT_EQ(opt->find("output_norm.weight"), nullptr);  // post-norm OPT has no final norm
}

TEST(HfCheckpoint, AnUnsupportedTokenizerStillLoadsTheWeights) {
  // A pre-tokenizer setting dcllm cannot reproduce: the model loads (inspect works), and asking
  // for its tokenizer names the file and the feature.
  const std::string dir = ::testing::TempDir() + "hf_unsupported_tokenizer";
  std::filesystem::remove_all(dir);
  std::filesystem::copy(fixture_dir("opt"), dir);
  std::ifstream in(dir + "/tokenizer.json");
  nlohmann::json j = nlohmann::json::parse(in);
  j["pre_tokenizer"]["add_prefix_space"] = true;
  std::ofstream(dir + "/tokenizer.json") << j.dump();
  auto model = load_model(dir);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_FALSE(model->vocab.has_value());
  auto tok = tokenizer_for(*model);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(tok.status().message().find("tokenizer.json"), std::string::npos)
      << tok.status().message();
  EXPECT_NE(tok.status().message().find("add_prefix_space"), std::string::npos)
      << tok.status().message();
  std::filesystem::remove_all(dir);
}

// An OPT directory without tokenizer_config.json whose tokenizer.json has no post-processor:
// config.json's bos_token_id (2, "</s>") must beat the guess by name ("<s>", id 0), as in
// transformers; generation_config.json, when present, names the ids generation uses.
class OptWithoutTokenizerConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hf_opt_bos_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::copy(fixture_dir("opt"), dir_);
    std::filesystem::remove(dir_ + "/tokenizer_config.json");
    std::ifstream in(dir_ + "/tokenizer.json");
    nlohmann::json j = nlohmann::json::parse(in);
    j.erase("post_processor");
    std::ofstream(dir_ + "/tokenizer.json") << j.dump();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void edit(const std::string& file, const std::function<void(nlohmann::json&)>& f) {
    std::ifstream in(dir_ + "/" + file);
    nlohmann::json j = nlohmann::json::parse(in);
    f(j);
    std::ofstream(dir_ + "/" + file) << j.dump();
  }
  std::string dir_;
};

TEST_F(OptWithoutTokenizerConfig, ConfigBosBeatsTheGuessByName) {
  auto model = load_model(dir_);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto tok = tokenizer_for(*model);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const std::vector<int32_t> ids = tok->encode("Once upon a time", /*add_bos=*/true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 2) << "config.json says bos_token_id 2; '<s>' (0) is only a guess";
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->eos_id(), 2);
}

TEST_F(OptWithoutTokenizerConfig, GenerationConfigIdsWin) {
  edit("generation_config.json", [](nlohmann::json& j) {
    j["bos_token_id"] = 3;
    j["eos_token_id"] = nlohmann::json::array({1, 2});  // generation stops at the first
  });
  auto model = load_model(dir_);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto tok = tokenizer_for(*model);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ(tok->bos_id(), 3);
  EXPECT_EQ(tok->eos_id(), 1);
}

TEST_F(OptWithoutTokenizerConfig, WithoutExplicitIdsTheNameStillDecides) {
  std::filesystem::remove(dir_ + "/generation_config.json");
  edit("config.json", [](nlohmann::json& j) {
    j.erase("bos_token_id");
    j.erase("eos_token_id");
  });
  auto model = load_model(dir_);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto tok = tokenizer_for(*model);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ(tok->bos_id(), 0);  // "<s>"
  EXPECT_EQ(tok->eos_id(), 2);  // "</s>"
}

TEST_F(OptWithoutTokenizerConfig, AnExplicitIdOutsideTheVocabIsAnError) {
  std::filesystem::remove(dir_ + "/generation_config.json");
  edit("config.json", [](nlohmann::json& j) { j["bos_token_id"] = 5000; });  // 448 tokens
  auto model = load_model(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("config.json"), std::string::npos)
      << model.status().message();
  EXPECT_NE(model.status().message().find("bos_token_id"), std::string::npos)
      << model.status().message();
}

TEST_F(OptWithoutTokenizerConfig, TheTokenizerConfigStillDecidesFirst) {
  // tokenizer_config.json is the tokenizer's own word: its bos_token beats config.json's id.
  std::ofstream(dir_ + "/tokenizer_config.json") << R"({"bos_token": "<unk>"})";
  auto model = load_model(dir_);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto tok = tokenizer_for(*model);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ(tok->bos_id(), 3);
}

}  // namespace
}  // namespace dcllm
