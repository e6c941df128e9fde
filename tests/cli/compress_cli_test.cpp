// `dcllm compress` through the built binary: --json prints one object with the documented
// fields, the file it names verifies, and a bad option exits 1 with one error line and no file.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"

namespace {

const std::string kData = DCLLM_SHARED_DATA;

using dcllm::testing_cli::run_cli;

std::string compress_args(const std::string& out) {
  return "compress " + kData + "/stories260K.bin --tokenizer " + kData + "/tok512.bin -o " + out +
         " --calib " + kData + "/tinystories_valid_head.txt --calib-tokens 512 --calib-ctx 128";
}

TEST(CliCompress, JsonReportAndAVerifiedFile) {
  const std::string out = ::testing::TempDir() + "cli_compress.dcllm";
  std::filesystem::remove(out);
  auto r = run_cli(compress_args(out) + " --alpha 0.9 --prune dc --sparsity 0.25 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // no progress line when stderr is not a terminal
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["output"], out);
  EXPECT_EQ(j["settings"]["alpha"], 0.9);
  EXPECT_EQ(j["settings"]["prune"], "dc");
  EXPECT_EQ(j["tensors"].size(), 36u);
  EXPECT_GT(j["totals"]["cr_vs_int8"].get<double>(), 1.0);
  EXPECT_GT(j["totals"]["zero_fraction"].get<double>(), 0.2);
  EXPECT_EQ(j["file_bytes"].get<uint64_t>(), std::filesystem::file_size(out));
  EXPECT_GT(j["cr_vs_fp16"].get<double>(), 1.0);  // metadata dominates this tiny model
  EXPECT_GE(j["seconds"].get<double>(), 0.0);

  auto v = run_cli("verify " + out);
  EXPECT_EQ(v.code, 0) << v.err;
}

TEST(CliCompress, TextSummaryShowsTheInputSizeBesideTheOutput) {
  const std::string out = ::testing::TempDir() + "cli_compress_text.dcllm";
  std::filesystem::remove(out);
  auto r = run_cli(compress_args(out));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string expected =
      out + ": " + std::to_string(std::filesystem::file_size(out)) + " bytes (input " +
      std::to_string(std::filesystem::file_size(kData + "/stories260K.bin")) + " bytes)";
  EXPECT_NE(r.out.find(expected), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("note:"), std::string::npos);  // a float32 source is not below INT8
}

TEST(CliCompress, BadValuesExitOneWithoutOutput) {
  const std::string out = ::testing::TempDir() + "cli_compress_bad.dcllm";
  for (const char* bad : {"--alpha=-1", "--sparsity 1 --prune dc", "--scale awq",
                          "--wquant group:x", "--codec nosuch"}) {
    SCOPED_TRACE(bad);
    std::filesystem::remove(out);
    auto r = run_cli(compress_args(out) + " " + bad);
    EXPECT_EQ(r.code, 1);
    const std::string& e = r.err;
    EXPECT_EQ(e.rfind("dcllm: error: ", 0), 0u) << e;
    EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  // CLI11 refuses unknown options itself (exit code != 0, no file).
  std::filesystem::remove(out);
  auto r = run_cli(compress_args(out) + " --no-such-option");
  EXPECT_NE(r.code, 0);
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(CliCompress, CalibrationTextOnlyWhenSomethingReadsIt) {
  const std::string out = ::testing::TempDir() + "cli_compress_nocalib.dcllm";
  const std::string base =
      "compress " + kData + "/stories260K.bin --tokenizer " + kData + "/tok512.bin -o " + out;
  // The defaults scale by calibration maxima: no text is a usage error naming --calib.
  std::filesystem::remove(out);
  auto r = run_cli(base);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no calibration text (--calib)"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  r = run_cli(base + " --scale none --rounding gptq");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out));

  // Unscaled and unpruned INT8 reads no text, stores no statistics, and runs.
  r = run_cli(base + " --scale none --prune none --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["calib_windows"], 0);
  EXPECT_EQ(j["calib_tokens_used"], 0);
  EXPECT_EQ(run_cli("verify " + out).code, 0);
  auto g = run_cli("run " + out + " -n 8 --temp 0 -p Once");
  EXPECT_EQ(g.code, 0) << g.err;
  EXPECT_FALSE(g.out.empty());
}

}  // namespace
