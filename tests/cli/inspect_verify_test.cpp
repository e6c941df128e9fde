// Runs the built `dcllm` binary: `inspect` (table and --json) and `verify` on a container made
// here, then `verify` on a damaged copy, which must fail and name the tensor and chunk.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "container/container_test_files.h"
#include "dcllm/container.h"

namespace dcllm {
namespace {

using testing::read_bytes;
using testing::ScratchDir;
using testing::write_bytes;

struct RunResult {
  int exit_code = -1;
  std::string out;
};

// Runs the CLI with `args`; `merge_stderr` folds stderr into the captured output.
RunResult run_cli(const std::string& args, bool merge_stderr) {
  std::string cmd =
      std::string(DCLLM_CLI_PATH) + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  RunResult r;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string make_container(const ScratchDir& dir) {
  std::string path = dir.file("cli model.dcllm");  // a space, so quoting is exercised
  auto w = ContainerWriter::create(path, {{"architecture", "llama"}, {"dim", 8}});
  EXPECT_TRUE(w.ok());
  std::vector<uint8_t> weights(4096);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<uint8_t>((i * i) % 7);
  std::vector<float> scales(64, 0.1f);
  EXPECT_TRUE(
      w->add_tensor({"layers.0.wq", {64, 64}, DType::kI8, {QuantScheme::kPerChannel, 0, scales}},
                    weights, "rans", 1024)
          .ok());
  std::vector<uint8_t> norm(32, 1);
  EXPECT_TRUE(w->add_tensor({"norm", {8}, DType::kF32, {}}, norm, "raw").ok());
  EXPECT_TRUE(w->finish().ok());
  return path;
}

std::string shell_quoted(const std::string& s) {
  return "'" + s + "'";
}

TEST(CliInspectVerify, InspectTableAndJson) {
  ScratchDir dir;
  std::string path = make_container(dir);
  RunResult table = run_cli("inspect " + shell_quoted(path), false);
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_NE(table.out.find("layers.0.wq"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("64x64"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("per-channel"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\"architecture\": \"llama\""), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("total"), std::string::npos) << table.out;

  RunResult js = run_cli("inspect --json --chunks " + shell_quoted(path), false);
  ASSERT_EQ(js.exit_code, 0) << js.out;
  auto j = nlohmann::json::parse(js.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << js.out;
  EXPECT_EQ(j["format"], "dcllm");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["metadata"]["architecture"], "llama");
  ASSERT_EQ(j["tensors"].size(), 2u);
  const auto& wq = j["tensors"][0];
  EXPECT_EQ(wq["name"], "layers.0.wq");
  EXPECT_EQ(wq["shape"], nlohmann::json({64, 64}));
  EXPECT_EQ(wq["dtype"], "i8");
  EXPECT_EQ(wq["quant"]["scheme"], "per-channel");
  EXPECT_EQ(wq["quant"]["scale_count"], 64);
  EXPECT_EQ(wq["codecs"], nlohmann::json({"rans"}));
  EXPECT_EQ(wq["chunks"], 4);
  EXPECT_EQ(wq["chunk_list"].size(), 4u);
  EXPECT_EQ(wq["raw_bytes"], 4096);
  EXPECT_GT(wq["ratio"].get<double>(), 1.0);
  EXPECT_EQ(j["totals"]["tensors"], 2);
  EXPECT_EQ(j["totals"]["chunks"], 5);
  EXPECT_EQ(j["totals"]["raw_bytes"], 4096 + 32);
  EXPECT_EQ(j["totals"]["file_bytes"], read_bytes(path).size());
}

TEST(CliInspectVerify, VerifyPassesThenNamesTheDamagedChunk) {
  ScratchDir dir;
  std::string path = make_container(dir);
  RunResult ok = run_cli("verify " + shell_quoted(path), true);
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_EQ(ok.out, "OK: 2 tensors, 5 chunks verified\n");

  RunResult js = run_cli("verify --json " + shell_quoted(path), false);
  EXPECT_EQ(js.exit_code, 0) << js.out;
  auto j = nlohmann::json::parse(js.out, nullptr, false);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["chunks"], 5);

  auto c = ModelContainer::open(path);
  ASSERT_TRUE(c.ok());
  uint64_t target = c->tensors()[0].chunks[2].offset + 3;
  auto bytes = read_bytes(path);
  bytes[target] ^= 0x01;
  std::string damaged = dir.file("damaged.dcllm");
  write_bytes(damaged, bytes);
  RunResult bad = run_cli("verify " + shell_quoted(damaged), true);
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("dcllm: error: "), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("tensor 'layers.0.wq' chunk 2"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("checksum"), std::string::npos) << bad.out;

  RunResult bad_json = run_cli("verify --json " + shell_quoted(damaged), false);
  EXPECT_EQ(bad_json.exit_code, 1);
  auto jb = nlohmann::json::parse(bad_json.out, nullptr, false);
  EXPECT_EQ(jb["ok"], false);
  EXPECT_NE(jb["error"].get<std::string>().find("chunk 2"), std::string::npos);
}

TEST(CliInspectVerify, VerifyRejectsANonContainer) {
  ScratchDir dir;
  std::string path = dir.file("not.dcllm");
  write_bytes(path, std::vector<uint8_t>(200, 'x'));
  RunResult r = run_cli("verify " + shell_quoted(path), true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("bad magic"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace dcllm
