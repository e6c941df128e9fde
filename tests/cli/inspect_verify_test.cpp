// Runs the built `dcllm` binary: `inspect` (table and --json) and `verify` on a container made
// here, then `verify` on a damaged copy, which must fail and name the tensor and chunk.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "container/container_test_files.h"
#include "dcllm/container.h"

namespace dcllm {
namespace {

using testing::read_bytes;
using testing::ScratchDir;
using testing::write_bytes;

using testing_cli::CliResult;
using testing_cli::run_cli;

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
  CliResult table = run_cli("inspect " + shell_quoted(path));
  ASSERT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find("layers.0.wq"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("64x64"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("per-channel"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\"architecture\": \"llama\""), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("total"), std::string::npos) << table.out;

  CliResult js = run_cli("inspect --json --chunks " + shell_quoted(path));
  ASSERT_EQ(js.code, 0) << js.out;
  auto j = nlohmann::json::parse(js.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << js.out;
  EXPECT_EQ(j["format"], "dcllm");
  EXPECT_EQ(j["version"], kContainerVersion);
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
  CliResult ok = run_cli("verify " + shell_quoted(path));
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "OK: 2 tensors, 5 chunks verified\n");
  EXPECT_EQ(ok.err, "");

  CliResult js = run_cli("verify --json " + shell_quoted(path));
  EXPECT_EQ(js.code, 0) << js.out;
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
  CliResult bad = run_cli("verify " + shell_quoted(damaged));
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_NE(bad.err.find("dcllm: error: "), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("tensor 'layers.0.wq' chunk 2"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("checksum"), std::string::npos) << bad.err;

  CliResult bad_json = run_cli("verify --json " + shell_quoted(damaged));
  EXPECT_EQ(bad_json.code, 1);
  auto jb = nlohmann::json::parse(bad_json.out, nullptr, false);
  ASSERT_FALSE(jb.is_discarded()) << bad_json.out;
  EXPECT_EQ(jb["error"]["type"], "corrupt");
  EXPECT_NE(jb["error"]["message"].get<std::string>().find("chunk 2"), std::string::npos);
}

TEST(CliInspectVerify, VerifyRejectsANonContainer) {
  ScratchDir dir;
  std::string path = dir.file("not.dcllm");
  write_bytes(path, std::vector<uint8_t>(200, 'x'));
  CliResult r = run_cli("verify " + shell_quoted(path));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad magic"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dcllm
