// The CLI on hostile input: 100,000-deep JSON in each JSON a model directory or .dcllm holds,
// and tensor names with newlines and 10 kB of text, each end in one bounded line on stderr and
// exit 1 (never a signal); `inspect` summarises huge metadata arrays in its table.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "core/hostile_json_files.h"
#include "model/gguf_builder.h"
#include "model/hf_fixtures.h"

namespace dcllm {
namespace {

using testing::deep_json_array;
using testing_cli::CliResult;
using testing_cli::read_file;
using testing_cli::run_cli;

constexpr size_t kDeep = 100000;

// "evil\n" then `n` bytes of text; appended, since `"..." + std::string` trips a GCC 12
// -Wrestrict false positive at -O3.
std::string evil_name(size_t n) {
  std::string s = "evil\n";
  s.append(n, 'y');
  return s;
}

void expect_one_line_error(const CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.code, 1) << "a signal or success, stderr: " << r.err.substr(0, 500);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err.substr(0, 500);
  EXPECT_LT(r.err.size(), 500u) << r.err.substr(0, 500);
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err.substr(0, 500);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// A safetensors file with one header entry `name` whose dtype is not one the format defines.
std::string bad_safetensors(const std::string& name) {
  nlohmann::json h = {{name, {{"dtype", "XX"}, {"shape", {1}}, {"data_offsets", {0, 1}}}}};
  const std::string text = h.dump();
  std::string out(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  return out + text + "x";
}

// A copy of the OPT fixture to damage.
class HostileHfDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hostile_hf_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::copy(testing_hf::fixture_dir("opt"), dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(HostileHfDir, DeepRopeScalingInConfigJson) {
  std::string config = read_file(dir_ + "/config.json");
  config.erase(config.rfind('}'));
  write_text(dir_ + "/config.json", config + ", \"rope_scaling\": " + deep_json_array(kDeep) + "}");
  expect_one_line_error(run_cli("inspect " + dir_), "config.json: JSON nests deeper than 64");
  expect_one_line_error(run_cli("ppl " + dir_ + " --text " + dir_ + "/config.json"),
                        "nests deeper");
}

TEST_F(HostileHfDir, DeepTokenizerJson) {
  write_text(dir_ + "/tokenizer.json", "{\"model\": " + deep_json_array(kDeep) + "}");
  expect_one_line_error(run_cli("inspect " + dir_), "tokenizer.json: JSON nests deeper than 64");
}

TEST_F(HostileHfDir, DeepGenerationConfigJson) {
  write_text(dir_ + "/generation_config.json", "{\"x\": " + deep_json_array(kDeep) + "}");
  expect_one_line_error(run_cli("inspect " + dir_), "generation_config.json: JSON nests deeper");
}

TEST_F(HostileHfDir, DeepSafetensorsHeader) {
  const std::string header = "{\"__metadata__\": " + deep_json_array(kDeep) + "}";
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  write_text(dir_ + "/model.safetensors", bytes + header);
  expect_one_line_error(run_cli("inspect " + dir_), "model.safetensors: JSON nests deeper");
}

TEST_F(HostileHfDir, TensorNameWithNewlineAndTenKilobytes) {
  write_text(dir_ + "/model.safetensors", bad_safetensors(evil_name(10000)));
  const CliResult r = run_cli("inspect " + dir_);
  expect_one_line_error(r, "model.safetensors: tensor 'evil\\x0ayyy");
}

TEST(HostileCli, GgufTensorNameWithNewlineAndTenKilobytes) {
  testing::ScratchDir dir;
  const std::string path = dir.file("evil.gguf");
  std::vector<uint8_t> bytes = testing::GgufBuilder()
                                   .kv_str("general.architecture", "llama")
                                   .tensor(evil_name(10000), {4}, 9999, std::vector<uint8_t>(16, 0))
                                   .build();
  testing::write_bytes(path, bytes);
  const CliResult r = run_cli("inspect " + path);
  expect_one_line_error(r, "evil.gguf");
  EXPECT_NE(r.err.find("\\x0a"), std::string::npos) << r.err.substr(0, 500);
}

// The container's own messages quote the tensor name as stored (valid UTF-8 may hold a
// newline): main() escapes and bounds whatever a library message holds.
TEST(HostileCli, DcllmTensorNameWithNewlineInAChunkError) {
  testing::ScratchDir dir;
  const std::string path = dir.file("evil.dcllm");
  auto w = ContainerWriter::create(path);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(
      w->add_tensor({evil_name(4000), {64}, DType::kU8, {}}, std::vector<uint8_t>(64, 3), "raw")
          .ok());
  ASSERT_TRUE(w->finish().ok());
  std::vector<uint8_t> b = testing::read_bytes(path);
  b.back() ^= 1;  // the last data byte: the chunk's checksum no longer matches
  testing::write_bytes(path, b);
  const CliResult r = run_cli("verify " + path);
  expect_one_line_error(r, "evil.dcllm");
  EXPECT_NE(r.err.find("evil\\x0ayyy"), std::string::npos) << r.err.substr(0, 500);
}

TEST(HostileCli, DeepDcllmMetadata) {
  testing::ScratchDir dir;
  const std::string path = dir.file("deep.dcllm");
  ASSERT_TRUE(testing::write_deep_metadata_container(path, kDeep).ok());
  expect_one_line_error(run_cli("inspect " + path), "deep.dcllm: metadata: JSON nests deeper");
  expect_one_line_error(run_cli("inspect --json " + path), "nests deeper");
  expect_one_line_error(run_cli("verify " + path), "nests deeper");
}

TEST(HostileCli, InspectSummarisesHugeMetadata) {
  testing::ScratchDir dir;
  const std::string path = dir.file("big.dcllm");
  std::vector<double> stats(100000, 0.25);
  nlohmann::json meta = {{"architecture", "llama"},
                         {"calibration", {{"blk.0.attn_q", {{"max_abs", stats}}}}},
                         {"short", {1, 2, 3}},
                         {"template", std::string(10000, 't')}};
  auto w = ContainerWriter::create(path, meta);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->add_tensor({"t", {4}, DType::kU8, {}}, std::vector<uint8_t>(4, 1), "raw").ok());
  ASSERT_TRUE(w->finish().ok());

  const CliResult table = run_cli("inspect " + path);
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("\"max_abs\": [100000 values]"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\"short\": [1, 2, 3]"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\"architecture\": \"llama\""), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("... (10000 bytes)"), std::string::npos) << table.out;
  EXPECT_LT(std::count(table.out.begin(), table.out.end(), '\n'), 40) << table.out;
  EXPECT_LT(table.out.size(), 4000u);

  const CliResult js = run_cli("inspect --json " + path);
  ASSERT_EQ(js.code, 0) << js.err;
  const auto j = nlohmann::json::parse(js.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["metadata"]["calibration"]["blk.0.attn_q"]["max_abs"].size(), 100000u);
  EXPECT_EQ(j["metadata"]["template"].get<std::string>().size(), 10000u);
}

}  // namespace
}  // namespace dcllm
