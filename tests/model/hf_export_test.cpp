// The Hugging Face exporter: tokenizer.json written from a vocabulary reads back (through our
// own tokenizer.json reader) to a tokenizer that gives the same ids and text; export refuses an
// existing directory and leaves nothing behind when it refuses.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "model/hf_export.h"
#include "model/hf_tokenizer_json.h"
#include "model/model_loader.h"
#include "model/tokenizer.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Texts that exercise the dummy prefix, runs of spaces, newlines, digits, and characters the
// small vocabularies only have as bytes.
std::vector<std::string> sample_texts() {
  std::string stories = read_all(kData + "/tinystories_valid_head.txt").substr(0, 20000);
  return {stories,
          "",
          " leading space",
          "two  spaces and\ttab\nnew line\n\n",
          "numbers 12345 and 3.14",
          "caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 \xF0\x9F\x98\x80 emoji",
          "Lily's ball, isn't it? (yes!)"};
}

void expect_same_tokens(const Vocab& original) {
  auto json = hf_tokenizer_json(original);
  ASSERT_TRUE(json.ok()) << json.status().message();
  auto back =
      parse_hf_tokenizer_json(*json, hf_tokenizer_config_json(original), "x/tokenizer.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  auto a = Tokenizer::create(original);
  auto b = Tokenizer::create(*back);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(back->bos_id, original.bos_id);
  EXPECT_EQ(back->eos_id, original.eos_id);
  EXPECT_EQ(back->add_bos, original.add_bos);
  EXPECT_EQ(back->chat_template, "");  // tokenizer.json itself carries none
  for (const std::string& text : sample_texts()) {
    SCOPED_TRACE(text.substr(0, 40));
    const auto ids = a->encode(text, true);
    EXPECT_EQ(b->encode(text, true), ids);
    EXPECT_EQ(b->decode(ids), a->decode(ids));
  }
}

TEST(HfExport, Llama2cVocabularyRoundTripsThroughTokenizerJson) {
  // llama2.c's vocab merges by score: the writer has to derive ranked merges from the scores.
  auto v = load_llama2c_vocab(kData + "/tok512.bin", 512);
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_TRUE(v->merges.empty());
  expect_same_tokens(*v);
}

TEST(HfExport, ByteLevelVocabularyRoundTripsThroughTokenizerJson) {
  const char* env = std::getenv("DCLLM_TEST_GGUF");
  if (!env || !*env || !std::filesystem::exists(env)) {
    GTEST_SKIP() << "DCLLM_TEST_GGUF (SmolLM2, byte-level BPE) not set";
  }
  LoadOptions opts;
  opts.load_weights = false;
  auto m = load_model(env, opts);
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_TRUE(m->vocab);
  ASSERT_EQ(m->vocab->kind, VocabKind::kByteLevelBpe);
  EXPECT_EQ(m->vocab->pre_tokenizer, "smollm");
  expect_same_tokens(*m->vocab);
}

TEST(HfExport, RefusesAnExistingDirectoryAndLeavesNoTemporary) {
  const std::string parent = ::testing::TempDir() + "hf_export_" + std::to_string(::getpid());
  std::filesystem::remove_all(parent);
  std::filesystem::create_directories(parent + "/taken");
  std::ofstream(parent + "/taken/keep.txt") << "mine";
  LoadOptions opts;
  opts.tokenizer_path = kData + "/tok512.bin";
  auto m = load_model(kData + "/stories260K.bin", opts);
  ASSERT_TRUE(m.ok()) << m.status().message();

  auto r = export_hf_directory(*m, parent + "/taken");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(read_all(parent + "/taken/keep.txt"), "mine");

  auto ok = export_hf_directory(*m, parent + "/fresh", HfExportOptions{false, 1});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->architecture, "LlamaForCausalLM");
  EXPECT_EQ(ok->tensors, 47);  // 5 layers x 9, the embeddings and the final norm (tied)
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(parent)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 2);  // taken, fresh: no temporary directory left
  for (const char* f :
       {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(std::filesystem::exists(parent + "/fresh/" + f)) << f;
  }
  // It loads back as a Hugging Face checkpoint with the same shape of model.
  auto back = load_model(parent + "/fresh", LoadOptions{});
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->config.n_layers, m->config.n_layers);
  EXPECT_EQ(back->config.rope_style, RopeStyle::kHalves);
  EXPECT_TRUE(back->config.tied_classifier);
  std::filesystem::remove_all(parent);
}

}  // namespace
}  // namespace dcllm
