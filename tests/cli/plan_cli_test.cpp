// `dcllm plan`, `bench machine` and `bench tiers` on the stories260K .dcllm fixture: a plan file
// that reads back and matches the model, one-line refusals (budget below the floor naming the
// minimum, both or neither goal, a model that is not a .dcllm, a bad profile), the profile's
// JSON, and the tiers table's rows with their keys.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../container/container_test_files.h"
#include "../runtime/rtn_int8_container.h"
#include "cli_runner.h"
#include "runtime/partial_compression_plan.h"
#include "runtime/throughput_model.h"

namespace dcllm {
namespace {

using testing_cli::run_cli;

// Round figures, so the tests never measure the machine.
MachineProfile test_profile() {
  MachineProfile p;
  p.storage_read_mbps = 500;
  p.storage_method = "o_direct";
  p.memory_read_mbps = {10000, 15000};
  p.memory_copy_mbps = 5000;
  p.rans_decode_mbps = {800, 1500};
  p.gemv_mbps = 10000;
  p.gemm_prompt_mbps = 40000;
  p.source = "test";
  return p;
}

class CliPlan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    model_ = dir_->file("stories260K.dcllm");
    auto m = testing::stories260k_with_rtn_container(model_);
    ASSERT_TRUE(m.ok()) << m.status().message();
    profile_ = dir_->file("profile.json");
    ASSERT_TRUE(write_machine_profile(test_profile(), profile_).ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  static bool one_line_error(const testing_cli::CliResult& r) {
    return r.code != 0 && r.out.empty() && r.err.rfind("dcllm: error: ", 0) == 0 &&
           r.err.find('\n') == r.err.size() - 1;
  }

  static testing::ScratchDir* dir_;
  static std::string model_, profile_;
};
testing::ScratchDir* CliPlan::dir_ = nullptr;
std::string CliPlan::model_, CliPlan::profile_;

TEST_F(CliPlan, WritesAPlanThatMatchesTheModel) {
  const std::string out = dir_->file("plan.json");
  auto r = run_cli("plan " + model_ + " --profile " + profile_ + " --mem-budget 64MiB -o " + out +
                   " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"predicted_tokens_per_second", "resident_bytes", "streamed_bytes",
                          "chunks", "memory_bytes", "candidates"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_LE(j["memory_bytes"].get<uint64_t>(), uint64_t{64} << 20);
  auto plan = read_plan_file(out);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->chunks.size(), j["chunks"].size());
  auto c = ModelContainer::open(model_);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(plan_placements(*plan, c->tensors(), model_, /*check_storage=*/false).ok());

  auto text = run_cli("plan " + model_ + " --profile " + profile_ + " --target-tps 1");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("chosen"), std::string::npos);
}

TEST_F(CliPlan, RefusesBadInputInOneLine) {
  auto low = run_cli("plan " + model_ + " --profile " + profile_ + " --mem-budget 1KiB");
  EXPECT_TRUE(one_line_error(low)) << low.err;
  EXPECT_NE(low.err.find("below the minimum of"), std::string::npos) << low.err;
  EXPECT_NE(low.err.find(model_), std::string::npos) << low.err;
  // Refused before a profile is needed: no --profile, and none measured.
  auto low_no_profile = run_cli("plan " + model_ + " --mem-budget 1KiB");
  EXPECT_NE(low_no_profile.err.find("below the minimum of"), std::string::npos);

  for (const std::string& args :
       {"plan " + model_ + " --profile " + profile_,
        "plan " + model_ + " --profile " + profile_ + " --mem-budget 12parsecs",
        "plan " + std::string(DCLLM_SHARED_DATA) + "/stories260K.bin --profile " + profile_ +
            " --mem-budget 64MiB"}) {
    auto r = run_cli(args);
    EXPECT_TRUE(one_line_error(r)) << args << ": " << r.err;
  }
  auto both =
      run_cli("plan " + model_ + " --profile " + profile_ + " --mem-budget 64MiB --target-tps 3");
  EXPECT_NE(both.code, 0);

  const std::string bad = dir_->file("bad_profile.json");
  std::ofstream(bad) << R"({"storage_read_mbps": "fast"})";
  auto r = run_cli("plan " + model_ + " --profile " + bad + " --mem-budget 64MiB");
  EXPECT_TRUE(one_line_error(r)) << r.err;
  EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
}

TEST_F(CliPlan, BenchMachinePrintsAProfile) {
  const std::string out = dir_->file("measured.json");
  auto r =
      run_cli("bench machine --json --storage-size 8MiB --dir " + dir_->file("") + " -o " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  auto p = machine_profile_from_json(nlohmann::json::parse(r.out), "stdout");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_GT(p->storage_read_mbps, 0);
  EXPECT_FALSE(p->rans_decode_mbps.empty());
  EXPECT_GT(p->gemv_mbps, 0);
  EXPECT_TRUE(read_machine_profile(out).ok());
}

TEST_F(CliPlan, AnOutputInAMissingDirectoryIsRefusedBeforeAnyWork) {
  const std::string out = dir_->file("no-such-dir/p.json");
  for (const std::string& args :
       {"bench machine --storage-size 8MiB --dir " + dir_->file("") + " -o " + out,
        "plan " + model_ + " --profile " + profile_ + " --mem-budget 64MiB -o " + out}) {
    auto r = run_cli(args);
    EXPECT_TRUE(one_line_error(r)) << args << ": " << r.err;
    EXPECT_NE(r.err.find(out), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << args;  // nothing measured or planned, nothing printed
  }
  // The profile is not the plan's output either.
  auto r =
      run_cli("plan " + model_ + " --profile " + profile_ + " --mem-budget 64MiB -o " + profile_);
  EXPECT_TRUE(one_line_error(r)) << r.err;
  EXPECT_TRUE(read_machine_profile(profile_).ok());
}

TEST_F(CliPlan, BenchTiersPrintsRowsWithTheirKeys) {
  auto r = run_cli("bench tiers " + model_ + " --profile " + profile_ +
                   " --budgets 0.5 --prompt-tokens 8 --gen-tokens 4 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["rows"].is_array());
  std::vector<std::string> plans;
  for (const auto& row : j["rows"]) {
    for (const char* key :
         {"tier", "plan", "budget_bytes", "prompt_tokens_per_second",
          "generation_tokens_per_second", "peak_rss_bytes", "predicted_tokens_per_second"})
      EXPECT_TRUE(row.contains(key)) << key;
    plans.push_back(row["plan"]);
  }
  EXPECT_EQ(plans, (std::vector<std::string>{"resident", "compressed", "stream", "planned",
                                             "stream-raw"}));
  // The uniform tiers run today, each in its own process.
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(j["rows"][i]["peak_rss_bytes"].is_number()) << j["rows"][i].dump();
    EXPECT_GT(j["rows"][i]["generation_tokens_per_second"].get<double>(), 0);
  }
  EXPECT_EQ(j["checks"].size(), 5u);
}

}  // namespace
}  // namespace dcllm
