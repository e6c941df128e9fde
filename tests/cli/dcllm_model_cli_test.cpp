// `run`, `ppl`, `inspect`, `verify` and `bench run` on a .dcllm compressed model through the
// built binary, in every --weights tier, and the one-line error a corrupted chunk gives.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "../container/container_test_files.h"
#include "../runtime/rtn_int8_container.h"
#include "cli/cli_runner.h"
#include "model/model_loader.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

using testing_cli::run_cli;

class CliDcllmModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    path_ = dir_->file("stories260K.dcllm");
    auto m = testing::stories260k_with_rtn_container(path_);
    ASSERT_TRUE(m.ok()) << m.status().message();
  }
  static void TearDownTestSuite() { delete dir_; }
  static testing::ScratchDir* dir_;
  static std::string path_;
};

testing::ScratchDir* CliDcllmModel::dir_ = nullptr;
std::string CliDcllmModel::path_;

TEST_F(CliDcllmModel, RunGeneratesAStory) {
  auto r = run_cli("run " + path_ + " -p \"Once upon a time\" -n 40 --temp 0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;
  EXPECT_GT(r.out.size(), std::string("Once upon a time").size() + 40) << r.out;
}

TEST_F(CliDcllmModel, PplPrintsJson) {
  auto r = run_cli("ppl " + path_ + " --text " + kData +
                   "/tinystories_valid_head.txt --ctx 128 --chunks 2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tokens"], 2 * 127);
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  EXPECT_LT(j["ppl"].get<double>(), 50.0);
}

TEST_F(CliDcllmModel, InspectAndVerifyAcceptIt) {
  auto r = run_cli("inspect " + path_ + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["metadata"]["format"], "dcllm-model");
  EXPECT_EQ(j["metadata"]["config"]["dim"], 64);
  auto v = run_cli("verify " + path_);
  EXPECT_EQ(v.code, 0) << v.err;
}

TEST_F(CliDcllmModel, BenchRunReportsW8A8AndFloat32) {
  auto r = run_cli("bench run " + path_ + " --prompt-tokens 16 --gen-tokens 8 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["weights"], "resident");
  EXPECT_EQ(j["compute"], "w8a8");
  EXPECT_EQ(j["generated_tokens"], 8);
  EXPECT_GT(j["generation_tokens_per_second"].get<double>(), 0.0);
  EXPECT_GT(j["float32"]["generation_tokens_per_second"].get<double>(), 0.0);
}

// docs/runtime.md: the three tiers run the same weights, so every output is identical.
TEST_F(CliDcllmModel, EveryWeightTierPrintsTheSamePplAndText) {
  std::string ppl0, run0;
  for (const std::string tier : {"resident", "compressed", "stream"}) {
    SCOPED_TRACE(tier);
    auto p = run_cli("ppl " + path_ + " --text " + kData +
                     "/tinystories_valid_head.txt --ctx 128 --chunks 3 --weights " + tier);
    ASSERT_EQ(p.code, 0) << p.err;
    EXPECT_EQ(p.out.rfind("ppl ", 0), 0u) << p.out;
    auto r = run_cli("run " + path_ + " -p \"Once upon a time\" -n 24 --temp 0 --weights " + tier);
    ASSERT_EQ(r.code, 0) << r.err;
    if (tier == "resident") {
      ppl0 = p.out;
      run0 = r.out;
    } else {
      EXPECT_EQ(p.out, ppl0);  // the same number to the last printed digit
      EXPECT_EQ(r.out, run0);
    }
  }
}

TEST_F(CliDcllmModel, BenchRunReportsTheTierAndWhatItHolds) {
  for (const std::string tier : {"resident", "compressed", "stream"}) {
    SCOPED_TRACE(tier);
    auto r = run_cli("bench run " + path_ + " --prompt-tokens 8 --gen-tokens 4 --json --weights " +
                     tier);
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["weights"], tier);
    EXPECT_EQ(j["compute"], "w8a8");
    EXPECT_GT(j["peak_rss_bytes"].get<uint64_t>(), 0u);
    EXPECT_GT(j["generation_tokens_per_second"].get<double>(), 0.0);
    const auto& held = j["weight_memory"];
    const uint64_t stored = j["weights_int8_stored_bytes"].get<uint64_t>();
    // Only the resident tier has decoded values to time the float32 baseline with.
    EXPECT_EQ(j.contains("float32"), tier == "resident");
    if (tier == "compressed") {
      // Every INT8 chunk is held as stored, token_embd included (its rows decode on lookup).
      EXPECT_EQ(held["stored_bytes"].get<uint64_t>(), stored);
      EXPECT_EQ(held["decoded_bytes"].get<uint64_t>(), 0u);
    } else {
      EXPECT_EQ(held["stored_bytes"].get<uint64_t>(), 0u);
    }
    // Only streamed chunks need the read ring; held coded ones decode into the compute
    // threads' own buffers (the fused path).
    EXPECT_EQ(held["ring_bytes"].get<uint64_t>() > 0, tier == "stream");
    EXPECT_EQ(held["scratch_bytes"].get<uint64_t>() > 0, tier != "resident");
  }
}

TEST_F(CliDcllmModel, CorruptedChunkIsAOneLineError) {
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const TensorEntry& e = c->tensors()[static_cast<size_t>(c->find("blk.2.attn_v.weight"))];
  auto bytes = testing::read_bytes(path_);
  bytes[e.chunks[0].offset] ^= 0x01;
  const std::string bad = dir_->file("bad.dcllm");
  testing::write_bytes(bad, bytes);
  for (const std::string& args :
       {"run " + bad + " -n 4 --temp 0",
        "ppl " + bad + " --text " + kData + "/tinystories_valid_head.txt", "verify " + bad}) {
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 1) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("dcllm: error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_NE(r.err.find("blk.2.attn_v.weight"), std::string::npos) << args << ": " << r.err;
    EXPECT_NE(r.err.find("checksum"), std::string::npos) << args << ": " << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << args << ": " << r.err;
    EXPECT_EQ(r.out, "") << args;  // the error line is all the command prints
  }
}

}  // namespace
}  // namespace dcllm
