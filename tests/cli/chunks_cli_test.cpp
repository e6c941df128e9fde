// Row chunks through the built binary: compress --chunk-rows/--chunk-bytes, repack --plan and
// runs that follow the stored plan, --mem-budget (refused below the minimum, naming it; a run
// within it), a container of the old version refused naming both versions, bench fused --json.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../container/container_test_files.h"
#include "../runtime/rtn_int8_container.h"
#include "cli/cli_runner.h"
#include "runtime/partial_compression_plan.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

using testing_cli::run_cli;

class CliChunks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    path_ = dir_->file("stories260K.dcllm");
    LoadOptions o;
    o.tokenizer_path = kData + "/tok512.bin";
    auto m = load_model(kData + "/stories260K.bin", o);
    ASSERT_TRUE(m.ok()) << m.status().message();
    ASSERT_TRUE(testing::write_rtn_int8_container(*m, path_, 1024).ok());
  }
  static void TearDownTestSuite() { delete dir_; }
  static testing::ScratchDir* dir_;
  static std::string path_;
};

testing::ScratchDir* CliChunks::dir_ = nullptr;
std::string CliChunks::path_;

void expect_one_line_error(const testing_cli::CliResult& r, const std::string& fragment) {
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("dcllm: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(CliChunks, CompressCutsInt8TensorsIntoRowChunks) {
  const std::string base = "compress " + kData + "/stories260K.bin --tokenizer " + kData +
                           "/tok512.bin --calib " + kData +
                           "/tinystories_valid_head.txt --calib-tokens 256 --calib-ctx 64 -o ";
  for (const std::string opt : {"--chunk-rows 8", "--chunk-bytes 1KiB"}) {
    SCOPED_TRACE(opt);
    const std::string out = dir_->file("chunked.dcllm");
    auto r = run_cli(base + out + " " + opt);
    ASSERT_EQ(r.code, 0) << r.err;
    auto c = ModelContainer::open(out);
    ASSERT_TRUE(c.ok()) << c.status().message();
    const TensorEntry& e = c->tensors()[static_cast<size_t>(c->find("blk.0.ffn_up.weight"))];
    const uint64_t rows = e.spec.shape[0], cols = e.spec.shape[1];
    const uint64_t most = opt == "--chunk-rows 8" ? 8 : 1024 / cols;
    EXPECT_EQ(e.chunks.size(), (rows + most - 1) / most);
    for (const ChunkInfo& ch : e.chunks) EXPECT_LE(ch.row_count, most);
    std::filesystem::remove(out);
  }
  auto both = run_cli(base + dir_->file("x.dcllm") + " --chunk-rows 8 --chunk-bytes 1KiB");
  EXPECT_NE(both.code, 0);
  expect_one_line_error(run_cli(base + dir_->file("x.dcllm") + " --chunk-bytes 12parsecs"),
                        "--chunk-bytes");
  EXPECT_FALSE(std::filesystem::exists(dir_->file("x.dcllm")));
}

TEST_F(CliChunks, RepackStoresThePlanAndBenchRunFollowsIt) {
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok());
  // Every other chunk stream-raw (a repack makes it raw), the rest held coded.
  PartialCompressionPlan plan;
  size_t i = 0;
  for (const TensorEntry& e : c->tensors()) {
    if (e.spec.dtype != DType::kI8) continue;
    for (size_t k = 0; k < e.chunks.size(); ++k)
      plan.chunks.push_back({e.spec.name, k,
                             e.spec.name == "token_embd.weight" ? ChunkPlacement::kResidentRaw
                             : i++ % 2                          ? ChunkPlacement::kStreamRaw
                                                                : ChunkPlacement::kResidentCoded});
  }
  const std::string plan_path = dir_->file("plan.json");
  ASSERT_TRUE(write_plan_file(plan, plan_path).ok());
  const std::string out = dir_->file("repacked.dcllm");
  auto r = run_cli("repack " + path_ + " -o " + out + " --plan " + plan_path + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["to_raw"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["output_bytes"].get<uint64_t>(), std::filesystem::file_size(out));
  EXPECT_EQ(run_cli("verify " + out).code, 0);

  auto b = run_cli("bench run " + out + " --prompt-tokens 8 --gen-tokens 4 --json");
  ASSERT_EQ(b.code, 0) << b.err;
  auto bj = nlohmann::json::parse(b.out);
  EXPECT_EQ(bj["weights"], "stream");
  EXPECT_EQ(bj["weights_source"].get<std::string>().rfind("stored plan", 0), 0u);
  EXPECT_GT(bj["weight_memory"]["stored_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(bj["weight_memory"]["ring_bytes"].get<uint64_t>(), 0u);

  // The same text as the plain file, and the same ppl to the last digit.
  const std::string ppl = " --text " + kData + "/tinystories_valid_head.txt --ctx 64 --chunks 2";
  auto p1 = run_cli("ppl " + path_ + ppl);
  auto p2 = run_cli("ppl " + out + ppl);
  ASSERT_EQ(p1.code, 0) << p1.err;
  EXPECT_EQ(p1.out, p2.out);
  const std::string gen = " -p \"Once upon a time\" -n 16 --temp 0";
  auto g1 = run_cli("run " + path_ + gen);
  auto g2 = run_cli("run " + out + gen);
  ASSERT_EQ(g1.code, 0) << g1.err;
  EXPECT_EQ(g1.out, g2.out);

  // The input is never the output; a plan for another file is refused; nothing is written.
  expect_one_line_error(run_cli("repack " + path_ + " -o " + path_ + " --plan " + plan_path),
                        path_);
  plan.chunks.pop_back();
  ASSERT_TRUE(write_plan_file(plan, plan_path).ok());
  const std::string never = dir_->file("never.dcllm");
  expect_one_line_error(run_cli("repack " + path_ + " -o " + never + " --plan " + plan_path),
                        path_);
  EXPECT_FALSE(std::filesystem::exists(never));
}

TEST_F(CliChunks, MemBudgetBelowTheMinimumIsRefusedAndOneAboveItRuns) {
  for (const std::string verb : {"bench run", "run", "ppl"}) {
    SCOPED_TRACE(verb);
    std::string args = verb + " " + path_ + " --weights stream --mem-budget 1MiB";
    if (verb == "ppl") args += " --text " + kData + "/tinystories_valid_head.txt";
    if (verb == "run") args += " --temp 0";  // a sampled run prints its seed first
    expect_one_line_error(run_cli(args), "below the minimum of");
  }
  expect_one_line_error(run_cli("bench run " + path_ + " --weights compressed --mem-budget 1GiB"),
                        "--mem-budget needs --weights stream");
  expect_one_line_error(run_cli("bench run " + path_ + " --mem-budget lots"), "--mem-budget");
  expect_one_line_error(
      run_cli("bench run " + kData + "/stories260K.bin --weights stream --mem-budget 1GiB"),
      "needs a .dcllm model");

  auto r = run_cli("bench run " + path_ +
                   " --weights stream --mem-budget 64MiB --prompt-tokens 8 --gen-tokens 4 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["mem_budget_bytes"].get<uint64_t>(), uint64_t{64} << 20);
  EXPECT_GT(j["minimum_bytes"].get<uint64_t>(), 0u);
  EXPECT_LE(j["predicted_bytes"].get<uint64_t>(), uint64_t{64} << 20);
}

TEST_F(CliChunks, AFileOfTheOldVersionIsRefusedNamingBothVersions) {
  auto bytes = testing::read_bytes(path_);
  const uint32_t v1 = 1;
  std::memcpy(bytes.data() + 8, &v1, 4);
  const uint64_t h = XXH3_64bits(bytes.data(), 72);
  std::memcpy(bytes.data() + 72, &h, 8);
  const std::string old = dir_->file("old.dcllm");
  testing::write_bytes(old, bytes);
  for (const std::string verb : {"run --temp 0", "verify", "inspect"}) {
    SCOPED_TRACE(verb);
    auto r = run_cli(verb + " " + old);
    expect_one_line_error(r, old +
                                 ": container version 1 is not supported: this build reads "
                                 "version " +
                                 std::to_string(kContainerVersion));
  }
}

TEST_F(CliChunks, BenchFusedReportsTheThreeRatesAndIdenticalOutputs) {
  auto r = run_cli("bench fused " + path_ + " --seconds 0.2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  for (const char* k : {"fused_mbps", "decode_then_gemv_mbps", "int8_gemv_mbps"})
    EXPECT_GT(j[k].get<double>(), 0.0) << k;
  EXPECT_TRUE(j["identical"].get<bool>());
  ASSERT_GT(j["matrices"].size(), 10u);
  EXPECT_TRUE(j["matrices"][0].contains("fused_mbps"));
  EXPECT_GT(j["matrices"][0]["chunks"].get<uint64_t>(), 1u);
  // Re-chunked in memory, batch of 4 (a prompt): still bit-identical.
  auto b = run_cli("bench fused " + path_ + " --seconds 0.1 --chunk-rows 5 --batch 4 --json");
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_TRUE(nlohmann::json::parse(b.out)["identical"].get<bool>());
  expect_one_line_error(run_cli("bench fused " + kData + "/stories260K.bin"), "stories260K.bin");
}

}  // namespace
}  // namespace dcllm
