// `dcllm compress` through the built binary: --json prints one object with the documented
// fields, the file it names verifies, and a bad option exits 1 with one error line and no file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

const std::string kCli = DCLLM_CLI_PATH;
const std::string kData = DCLLM_SHARED_DATA;

struct Result {
  int code;
  std::string out;
};

Result run(const std::string& args, const std::string& err_file) {
  const std::string cmd = kCli + " " + args + " 2>" + err_file;
  FILE* p = popen(cmd.c_str(), "r");
  Result r{-1, ""};
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string compress_args(const std::string& out) {
  return "compress " + kData + "/stories260K.bin --tokenizer " + kData + "/tok512.bin -o " + out +
         " --calib " + kData + "/tinystories_valid_head.txt --calib-tokens 512 --calib-ctx 128";
}

TEST(CliCompress, JsonReportAndAVerifiedFile) {
  const std::string out = ::testing::TempDir() + "cli_compress.dcllm";
  const std::string err = ::testing::TempDir() + "cli_compress_err.txt";
  std::filesystem::remove(out);
  auto r = run(compress_args(out) + " --alpha 0.9 --prune dc --sparsity 0.25 --json", err);
  ASSERT_EQ(r.code, 0) << slurp(err);
  EXPECT_EQ(slurp(err), "");  // no progress line when stderr is not a terminal
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

  auto v = run("verify " + out, err);
  EXPECT_EQ(v.code, 0) << slurp(err);
}

TEST(CliCompress, BadValuesExitOneWithoutOutput) {
  const std::string out = ::testing::TempDir() + "cli_compress_bad.dcllm";
  const std::string err = ::testing::TempDir() + "cli_compress_bad_err.txt";
  for (const char* bad : {"--alpha=-1", "--sparsity 1 --prune dc", "--scale awq",
                          "--wquant group:x", "--codec nosuch"}) {
    SCOPED_TRACE(bad);
    std::filesystem::remove(out);
    auto r = run(compress_args(out) + " " + bad, err);
    EXPECT_EQ(r.code, 1);
    const std::string e = slurp(err);
    EXPECT_EQ(e.rfind("dcllm: error: ", 0), 0u) << e;
    EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  // CLI11 refuses unknown options itself (exit code != 0, no file).
  std::filesystem::remove(out);
  auto r = run(compress_args(out) + " --no-such-option", err);
  EXPECT_NE(r.code, 0);
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
