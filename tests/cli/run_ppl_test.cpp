// The `run`, `ppl`, `inspect` and `bench run` verbs end to end through the built binary:
// llama2.c's reference sample, JSON schemas, and one-line errors for broken model files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_runner.h"

namespace {

const std::string kData = DCLLM_SHARED_DATA;

using dcllm::testing_cli::run_cli;

const char* kReference =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
    "One day, she saw a big, red ball. She wanted to play with it, but it was too high";

TEST(CliRun, Stories260KGreedyMatchesLlama2c) {
  auto r = run_cli("run " + kData + "/stories260K.bin --tokenizer " + kData +
                   "/tok512.bin -n 60 --temp 0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(kReference) + "\n");
  const std::string& e = r.err;
  EXPECT_NE(e.find("prompt: 1 tokens"), std::string::npos) << e;
  EXPECT_NE(e.find("generation: 60 tokens"), std::string::npos) << e;
}

TEST(CliRun, GgufWithPromptAndSampling) {
  auto greedy = run_cli("run " + kData + "/stories260K.gguf -n 60 --temp 0");
  ASSERT_EQ(greedy.code, 0);
  EXPECT_EQ(greedy.out, std::string(kReference) + "\n");
  auto a =
      run_cli("run " + kData + "/stories260K.gguf -p \"Once upon a time\" -n 30 --temp 1 --seed 5");
  auto b =
      run_cli("run " + kData + "/stories260K.gguf -p \"Once upon a time\" -n 30 --temp 1 --seed 5");
  ASSERT_EQ(a.code, 0);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.out.rfind("Once upon a time", 0), 0u) << a.out;
  EXPECT_GT(a.out.size(), std::string("Once upon a time").size() + 20);
}

TEST(CliPpl, JsonSchemaAndValues) {
  auto r =
      run_cli("ppl " + kData + "/stories260K.bin --tokenizer " + kData + "/tok512.bin --text " +
              kData + "/tinystories_valid_head.txt --ctx 256 --chunks 4 --json");
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tokens"].get<int64_t>(), 4 * 255);
  EXPECT_EQ(j["windows"].get<int64_t>(), 4);
  EXPECT_EQ(j["ctx"].get<int64_t>(), 256);
  const double ppl = j["ppl"].get<double>(), nll = j["nll"].get<double>();
  EXPECT_NEAR(ppl, std::exp(nll), 1e-9 * ppl);
  EXPECT_GT(ppl, 3.0);
  EXPECT_LT(ppl, 5.5);
  // The GGUF copy of the same weights scores the same text identically.
  auto g = run_cli("ppl " + kData + "/stories260K.gguf --text " + kData +
                   "/tinystories_valid_head.txt --ctx 256 --chunks 4 --json");
  ASSERT_EQ(g.code, 0);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(g.out)["ppl"].get<double>(), ppl);
}

TEST(CliPpl, HelpStatesTheProtocol) {
  auto r = run_cli("ppl --help");
  EXPECT_NE(r.out.find("windows of ctx-1 tokens"), std::string::npos) << r.out;
}

TEST(CliInspect, ModelFilesAsJson) {
  auto b = run_cli("inspect " + kData + "/stories260K.bin --json");
  ASSERT_EQ(b.code, 0);
  auto jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(jb["format"], "llama2.c");
  EXPECT_EQ(jb["parameters"].get<int64_t>(), 260032);
  EXPECT_EQ(jb["config"]["n_kv_heads"].get<int64_t>(), 4);
  EXPECT_EQ(jb["tensors"].size(), 47u);

  auto g = run_cli("inspect " + kData + "/stories260K.gguf --json");
  ASSERT_EQ(g.code, 0);
  auto jg = nlohmann::json::parse(g.out);
  EXPECT_EQ(jg["format"], "GGUF v3");
  EXPECT_EQ(jg["config"]["architecture"], "llama");
  EXPECT_EQ(jg["tensors"].size(), 48u);
  EXPECT_EQ(jg["parameters"].get<int64_t>(), 260032 + 512 * 64);
  EXPECT_EQ(jg["vocab"]["size"].get<int64_t>(), 512);
  bool found = false;
  for (const auto& t : jg["tensors"]) {
    if (t["name"] == "blk.0.attn_k.weight") {
      found = true;
      EXPECT_EQ(t["shape"], nlohmann::json::array({32, 64}));
      EXPECT_EQ(t["dtype"], "F32");
      EXPECT_EQ(t["bytes"].get<int64_t>(), 32 * 64 * 4);
    }
  }
  EXPECT_TRUE(found);

  auto text = run_cli("inspect " + kData + "/stories260K.gguf");
  ASSERT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("blk.4.ffn_down.weight"), std::string::npos);
}

TEST(CliBenchRun, ReportsSpeedsAndRss) {
  auto r =
      run_cli("bench run " + kData + "/stories260K.bin --prompt-tokens 32 --gen-tokens 16 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["prompt_tokens"].get<int64_t>(), 32);
  EXPECT_EQ(j["generated_tokens"].get<int64_t>(), 16);
  EXPECT_GT(j["prompt_tokens_per_second"].get<double>(), 0.0);
  EXPECT_GT(j["generation_tokens_per_second"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_mib"].get<double>(), 0.0);
  // VmHWM: at least the float32 weights this process read (the mapping's touched pages).
  EXPECT_GT(j["peak_rss_bytes"].get<uint64_t>(), 260032u * 4u);
  EXPECT_EQ(j["weights"], "resident");
  EXPECT_EQ(j["compute"], "float32");
  // llama2.c weights are used in place from the mapping: nothing decoded into a second copy.
  EXPECT_EQ(j["weights_owned_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(j["weights_mapped_bytes"].get<int64_t>(), 260032 * 4);
}

TEST(CliErrors, CodedWeightTiersNeedADcllm) {
  for (const std::string verb : {"run", "bench run", "ppl"}) {
    for (const std::string tier : {"compressed", "stream"}) {
      SCOPED_TRACE(verb + " " + tier);
      std::string args = verb + " " + kData + "/stories260K.gguf --weights " + tier;
      if (verb == "ppl") args += " --text " + kData + "/tinystories_valid_head.txt";
      auto r = run_cli(args);
      EXPECT_EQ(r.code, 1);
      EXPECT_EQ(r.err, "dcllm: error: " + kData + "/stories260K.gguf: --weights " + tier +
                           " needs a .dcllm model (this is not one; use --weights resident)\n");
      EXPECT_EQ(r.out, "");
    }
  }
  auto bad = run_cli("run " + kData + "/stories260K.gguf --weights mmap");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("--weights"), std::string::npos) << bad.err;
}

TEST(CliErrors, BrokenModelFilesGiveOneLine) {
  const std::string dir = ::testing::TempDir();
  struct Case {
    std::string name;
    std::string bytes;
    std::string fragment;
  };
  std::string header(28, '\0');
  const int32_t h[7] = {64, 172, 5, 8, 4, 512, 512};
  std::memcpy(header.data(), h, 28);
  const std::vector<Case> cases = {
      {"bad.gguf", std::string("GGUF\x03\0\0\0", 8) + std::string(16, '\xff'), "count"},
      {"short.bin", "abc", "shorter than the 28-byte"},
      {"truncated.bin", header + std::string(100, '\0'), "does not match its llama2.c header"},
      {"empty.gguf", "", "unknown model format"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir + c.name;
    std::ofstream(path, std::ios::binary) << c.bytes;
    for (const std::string verb : {"run", "inspect"}) {
      auto r = run_cli(verb + " " + path);
      EXPECT_EQ(r.code, 1);
      const std::string& e = r.err;
      EXPECT_EQ(e.rfind("dcllm: error: " + path + ": ", 0), 0u) << e;
      EXPECT_NE(e.find(c.fragment), std::string::npos) << e;
      EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
    }
  }
}

}  // namespace
