// The CLI habits users bring from llama.cpp (docs/cli.md): short options, samplers, a drawn and
// printed seed, --json with a JSON error object on failure, and exit code 1 for usage errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"

namespace dcllm {
namespace {

using testing_cli::run_cli;

const std::string kData = DCLLM_SHARED_DATA;
const std::string kModel = kData + "/stories260K.gguf";

TEST(CliConventions, UsageErrorsExitOneWithOneLine) {
  for (const char* args : {"run", "run --no-such-option x", "ppl",
                           "run "
                           "x --top-p 7",
                           "run x -n 1e300", "compress"}) {
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 1) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("dcllm: error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << args << ": " << r.err;
    EXPECT_LT(r.err.size(), 600u) << args;
  }
}

TEST(CliConventions, UnknownCommandIsNamed) {
  auto r = run_cli("foo");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown command 'foo'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("run"), std::string::npos) << r.err;
}

TEST(CliConventions, JsonFailuresPrintAnErrorObject) {
  for (std::string args :
       {"ppl /no/such/model.gguf --text " + kData + "/wikitext2_raw_test.txt --json",
        std::string("inspect /no/such/file --json"), std::string("run --json --bad-option")}) {
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 1) << args;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << args << ": stdout " << r.out;
    ASSERT_TRUE(j.contains("error")) << args;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_TRUE(j["error"]["type"].is_string());
  }
}

TEST(CliConventions, ShortOptionsPromptFileAndJson) {
  const std::string prompt = ::testing::TempDir() + "dcllm_prompt_" + std::to_string(::getpid());
  std::ofstream(prompt) << "Once upon a time";
  auto a = run_cli("run -m " + kModel + " -f " + prompt + " -n 12 -t 1 -s 7 --temp 0.9 --json");
  ASSERT_EQ(a.code, 0) << a.err;
  auto j = nlohmann::json::parse(a.out);
  EXPECT_EQ(j["prompt"], "Once upon a time");
  EXPECT_EQ(j["seed"], 7);
  EXPECT_GT(j["generated_tokens"].get<int>(), 0);
  EXPECT_FALSE(j["text"].get<std::string>().empty());
  auto b = run_cli("run " + kModel +
                   " -p \"Once upon a time\" -n 12 --threads 1 --seed 7 "
                   "--temp 0.9 --json");
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(nlohmann::json::parse(b.out)["text"], j["text"]);  // same seed, same text
  std::remove(prompt.c_str());
}

TEST(CliConventions, SeedIsDrawnAndPrintedUnlessGiven) {
  auto a = run_cli("run " + kModel + " -n 8 --temp 1");
  auto b = run_cli("run " + kModel + " -n 8 --temp 1");
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  const auto seed_of = [](const std::string& err) {
    const size_t at = err.find("seed: ");
    return at == std::string::npos ? std::string() : err.substr(at, err.find('\n', at) - at);
  };
  EXPECT_FALSE(seed_of(a.err).empty()) << a.err;
  EXPECT_NE(seed_of(a.err), seed_of(b.err));  // 2^-32 chance of a false failure
}

TEST(CliConventions, SamplersChangeTheDraw) {
  // top-k 1 is greedy whatever the temperature and seed.
  auto greedy = run_cli("run " + kModel + " -n 20 --temp 0");
  auto topk1 = run_cli("run " + kModel + " -n 20 --temp 1.5 --top-k 1 -s 3");
  ASSERT_EQ(greedy.code, 0);
  ASSERT_EQ(topk1.code, 0) << topk1.err;
  EXPECT_EQ(greedy.out, topk1.out);
  auto penal = run_cli("run " + kModel + " -n 20 --temp 0 --repeat-penalty 5");
  ASSERT_EQ(penal.code, 0) << penal.err;
  EXPECT_NE(greedy.out, penal.out);
}

}  // namespace
}  // namespace dcllm
