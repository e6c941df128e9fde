// A Hugging Face directory through the CLI with no conversion step: inspect, run, ppl and
// compress on the transformers-made fixtures, and W8A8 perplexity of the result near float32.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "model/hf_fixtures.h"
#include "model/model_loader.h"

namespace dcllm {
namespace {

using testing_cli::run_cli;
using testing_hf::fixture_dir;

const std::string kText = std::string(DCLLM_SHARED_DATA) + "/tinystories_valid_head.txt";

class HfCli : public ::testing::TestWithParam<std::string> {};

TEST_P(HfCli, InspectRunPplCompress) {
  const std::string dir = fixture_dir(GetParam());
  auto inspect = run_cli("inspect --json " + dir);
  ASSERT_EQ(inspect.code, 0) << inspect.err;
  const auto info = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(info["format"], "safetensors");
  EXPECT_GT(info["vocab"]["size"].get<int64_t>(), 256);

  auto run = run_cli("run " + dir + " -p \"Once upon a time\" -n 8 --temp 0");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out.rfind("Once upon a time", 0), 0u) << run.out;

  const std::string ppl_args = " --text " + kText + " --ctx 64 --chunks 8 --json";
  auto ppl = run_cli("ppl " + dir + ppl_args);
  ASSERT_EQ(ppl.code, 0) << ppl.err;
  const double float_ppl = nlohmann::json::parse(ppl.out)["ppl"].get<double>();

  const std::string out = ::testing::TempDir() + "hf_" + GetParam() + ".dcllm";
  std::filesystem::remove(out);
  auto compress = run_cli("compress " + dir + " -o " + out + " --calib " + kText +
                          " --calib-tokens 1024 --calib-ctx 64 --alpha 0.5 --json");
  ASSERT_EQ(compress.code, 0) << compress.err;
  const auto report = nlohmann::json::parse(compress.out);
  EXPECT_LT(report["totals"]["stored_bytes"].get<double>(),
            report["totals"]["int8_bytes"].get<double>());

  auto verify = run_cli("verify " + out);
  EXPECT_EQ(verify.code, 0) << verify.err;
  auto w8a8 = run_cli("ppl " + out + ppl_args);
  ASSERT_EQ(w8a8.code, 0) << w8a8.err;
  const double int8_ppl = nlohmann::json::parse(w8a8.out)["ppl"].get<double>();
  EXPECT_NEAR(int8_ppl, float_ppl, 0.03 * float_ppl) << GetParam();
  auto run8 = run_cli("run " + out + " -p \"Once upon a time\" -n 8 --temp 0");
  EXPECT_EQ(run8.code, 0) << run8.err;

  // The container carries the tokenizer with every rule: ids equal Hugging Face's.
  auto packed = load_model(out);
  ASSERT_TRUE(packed.ok()) << packed.status().message();
  auto tok = tokenizer_for(*packed);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const testing_hf::HfReference ref = testing_hf::load_reference(GetParam());
  for (const auto& t : ref.texts) {
    const std::string text = t.at("text").get<std::string>();
    EXPECT_EQ(tok->encode(text, tok->vocab().add_bos), t.at("ids").get<std::vector<int32_t>>())
        << GetParam() << ": " << text;
  }
  std::filesystem::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfCli, ::testing::ValuesIn(testing_hf::kHfFixtures),
                         testing_hf::fixture_test_name);

TEST(HfCliErrors, NamesTheFault) {
  const std::string dir = ::testing::TempDir() + "hf_bad_checkpoint";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir + "/config.json") << R"({"architectures": ["BloomForCausalLM"]})"; }
  auto r = run_cli("inspect " + dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("BloomForCausalLM"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("OPTForCausalLM"), std::string::npos) << r.err;
  {
    std::ofstream(dir + "/config.json")
        << R"({"architectures": ["GPT2LMHeadModel"], "n_embd": 8, "n_layer": 1, "n_head": 2,
               "vocab_size": 300, "n_positions": 16})";
  }
  r = run_cli("ppl " + dir + " --text " + kText);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dcllm
