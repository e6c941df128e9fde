// `dcllm export` through the built binary: a compressed stories260K goes back to GGUF and to a
// Hugging Face directory with a perplexity within 0.5% of the .dcllm's; bad outputs are refused
// before any work.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"

namespace {

const std::string kData = DCLLM_SHARED_DATA;
using dcllm::testing_cli::run_cli;

double ppl_of(const std::string& model_args) {
  auto r = run_cli("ppl " + model_args + " --text " + kData +
                   "/tinystories_valid_head.txt --ctx 128 --chunks 200 --json");
  EXPECT_EQ(r.code, 0) << r.err;
  if (r.code != 0) return 0.0;
  return nlohmann::json::parse(r.out)["ppl"].get<double>();
}

// stories260K compressed with a small calibration: the .dcllm both export tests start from.
dcllm::testing_cli::CliResult compress_stories(const std::string& packed) {
  return run_cli("compress " + kData + "/stories260K.bin --tokenizer " + kData + "/tok512.bin -o " +
                 packed + " --calib " + kData +
                 "/tinystories_valid_head.txt --calib-tokens 512 --calib-ctx 128");
}

TEST(CliExport, CompressedModelBackToGgufKeepsItsPerplexity) {
  // The pid keeps parallel test runs (other build trees) apart.
  const std::string dir = ::testing::TempDir() + "export_cli_" + std::to_string(::getpid());
  const std::string packed = dir + ".dcllm", gguf = dir + ".gguf";
  std::filesystem::remove(packed);
  std::filesystem::remove(gguf);
  auto c = compress_stories(packed);
  ASSERT_EQ(c.code, 0) << c.err;
  auto e = run_cli("export " + packed + " -o " + gguf + " --json");
  ASSERT_EQ(e.code, 0) << e.err;
  const auto j = nlohmann::json::parse(e.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_GT(j["q8_0_tensors"].get<int>(), 0);
  EXPECT_EQ(j["bytes"].get<uint64_t>(), std::filesystem::file_size(gguf));

  const double ppl_dcllm = ppl_of(packed), ppl_gguf = ppl_of(gguf);
  ASSERT_GT(ppl_dcllm, 1.0);
  EXPECT_LT(std::fabs(ppl_gguf - ppl_dcllm) / ppl_dcllm, 0.005)
      << "dcllm " << ppl_dcllm << " vs exported GGUF " << ppl_gguf;

  auto inspect = run_cli("inspect " + gguf);
  EXPECT_EQ(inspect.code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("Q8_0"), std::string::npos);
  std::filesystem::remove(packed);
  std::filesystem::remove(gguf);
}

TEST(CliExport, RefusesBadOutputsBeforeWork) {
  const std::string model = kData + "/stories260K.gguf";
  auto same = run_cli("export " + model + " -o " + model);
  EXPECT_EQ(same.code, 1);
  EXPECT_NE(same.err.find(model), std::string::npos) << same.err;
  auto not_gguf = run_cli("export " + model + " -o " + ::testing::TempDir() + "x.bin");
  EXPECT_EQ(not_gguf.code, 1);
  EXPECT_NE(not_gguf.err.find(".gguf file or a new directory"), std::string::npos) << not_gguf.err;
  EXPECT_FALSE(std::filesystem::exists(::testing::TempDir() + "x.bin"));
  const std::string opt_out =
      ::testing::TempDir() + "opt_export_" + std::to_string(::getpid()) + ".gguf";
  auto opt = run_cli("export " + std::string(DCLLM_TEST_DATA) + "/hf/opt -o " + opt_out);
  EXPECT_EQ(opt.code, 1);
  EXPECT_FALSE(std::filesystem::exists(opt_out));
}

TEST(CliExport, CompressedModelToHuggingFaceDirectoryKeepsItsPerplexity) {
  const std::string base = ::testing::TempDir() + "export_hf_" + std::to_string(::getpid());
  const std::string packed = base + ".dcllm", dir = base + "_dir", exact = base + "_f32";
  std::filesystem::remove(packed);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(exact);
  auto c = compress_stories(packed);
  ASSERT_EQ(c.code, 0) << c.err;
  auto e = run_cli("export " + packed + " -o " + dir + " --json");
  ASSERT_EQ(e.code, 0) << e.err;
  const auto j = nlohmann::json::parse(e.out);
  EXPECT_EQ(j["format"], "huggingface");
  EXPECT_EQ(j["architecture"], "LlamaForCausalLM");
  EXPECT_EQ(j["dtype"], "F16");
  uint64_t bytes = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) bytes += f.file_size();
  EXPECT_EQ(j["bytes"].get<uint64_t>(), bytes);
  const double ppl_dcllm = ppl_of(packed), ppl_dir = ppl_of(dir);
  ASSERT_GT(ppl_dcllm, 1.0);
  EXPECT_LT(std::fabs(ppl_dir - ppl_dcllm) / ppl_dcllm, 0.005)
      << "dcllm " << ppl_dcllm << " vs exported directory " << ppl_dir;

  // A float source exported as F32 is the same model: its q/k rows only change order.
  auto f = run_cli("export " + kData + "/stories260K.bin --tokenizer " + kData + "/tok512.bin -o " +
                   exact + " --type f32");
  ASSERT_EQ(f.code, 0) << f.err;
  const double ppl_src = ppl_of(kData + "/stories260K.bin --tokenizer " + kData + "/tok512.bin");
  EXPECT_NEAR(ppl_of(exact), ppl_src, 1e-6 * ppl_src);

  // An existing directory is refused before any work and left as it was.
  auto again = run_cli("export " + packed + " -o " + dir);
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                          std::filesystem::directory_iterator{}),
            4);
  auto q8 = run_cli("export " + packed + " -o " + base + "_q8 --type q8_0");
  EXPECT_EQ(q8.code, 1);
  EXPECT_FALSE(std::filesystem::exists(base + "_q8"));
  std::filesystem::remove(packed);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(exact);
}

}  // namespace
