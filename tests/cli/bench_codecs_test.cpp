// Runs the built `dcllm` binary: `bench codecs` and `bench decode-threads` on small synthetic
// inputs and on the shared llama2.c model, checking the JSON schema and that ratios are sane.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"

namespace dcllm {
namespace {

using testing_cli::CliResult;
using testing_cli::run_cli;

nlohmann::json parse_json(const CliResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not one JSON object:\n" << r.out;
  return j;
}

const nlohmann::json* find_codec(const nlohmann::json& report, const std::string& name) {
  for (const auto& c : report["codecs"]) {
    if (c["name"] == name) return &c;
  }
  return nullptr;
}

TEST(BenchCodecsCli, JsonSchemaAndSaneRatiosOnLaplace) {
  const CliResult r = run_cli(
      "bench codecs --synthetic laplace --size 1000000 --runs 1 --json --codecs raw,zstd-1,lz4");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = parse_json(r);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["input"], "synthetic:laplace");
  EXPECT_EQ(j["bytes"], 1000000);
  ASSERT_TRUE(j["entropy_bits"].is_number());
  ASSERT_TRUE(j["codecs"].is_array());
  ASSERT_EQ(j["codecs"].size(), 3u);
  const char* order[] = {"raw", "zstd-1", "lz4"};
  for (size_t i = 0; i < 3; ++i) {
    const auto& c = j["codecs"][i];
    EXPECT_EQ(c["name"], order[i]);
    for (const char* key : {"ratio", "compress_mbps", "decompress_mbps"}) {
      ASSERT_TRUE(c[key].is_number()) << order[i] << "." << key;
      EXPECT_GT(c[key].get<double>(), 0.0) << order[i] << "." << key;
    }
  }
  EXPECT_DOUBLE_EQ((*find_codec(j, "raw"))["ratio"].get<double>(), 1.0);
  // Laplace INT8 has ~5.6 bits/byte of order-0 entropy and no repeats: zstd's entropy stage
  // gains ~1.4x, while LZ4 (matches only) stays at ~1x, never much above or below.
  const double zstd = (*find_codec(j, "zstd-1"))["ratio"].get<double>();
  EXPECT_GT(zstd, 1.25);
  EXPECT_LT(zstd, 1.6);
  const double lz4 = (*find_codec(j, "lz4"))["ratio"].get<double>();
  EXPECT_GT(lz4, 0.98);
  EXPECT_LT(lz4, 1.1);
}

TEST(BenchCodecsCli, EntropyBoundCapsOrder0Coders) {
  const CliResult r = run_cli(
      "bench codecs --synthetic gauss-outlier --size 500000 --runs 1 --json "
      "--codecs rans,htscodecs-rans32x16");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = parse_json(r);
  const double entropy = j["entropy_bits"].get<double>();
  EXPECT_GT(entropy, 3.0);
  EXPECT_LT(entropy, 6.0);
  ASSERT_TRUE(j["bound_ratio"].is_number());
  const double bound = j["bound_ratio"].get<double>();
  EXPECT_NEAR(bound, 8.0 / entropy, 1e-9);
  for (const char* name : {"rans", "htscodecs-rans32x16"}) {
    const nlohmann::json* c = find_codec(j, name);
    ASSERT_NE(c, nullptr) << name;
    const double ratio = (*c)["ratio"].get<double>();
    // An order-0 coder (plus its table) cannot beat 8/H0 on this data, and a good one comes close.
    EXPECT_LT(ratio, bound) << name;
    EXPECT_GT(ratio, 0.97 * bound) << name;
    EXPECT_NEAR((*c)["bound_fraction"].get<double>(), ratio / bound, 1e-9) << name;
  }
}

TEST(BenchCodecsCli, HumanTableListsEveryRequestedCodec) {
  const CliResult r = run_cli(
      "bench codecs --synthetic pruned --size 200000 --runs 1 "
      "--codecs snappy,deflate-6,zstd-19");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* needle :
       {"synthetic:pruned", "bits/byte", "snappy", "deflate-6", "zstd-19", "decompress MB/s"}) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle << "\n" << r.out;
  }
}

TEST(BenchCodecsCli, QuantizesTheLlama2cModel) {
  const std::string model = std::string(DCLLM_SHARED_DATA) + "/stories260K.bin";
  const CliResult r = run_cli("bench codecs --input " + model +
                              " --dtype f32 --offset 28 --quantize per-tensor --runs 1 --json "
                              "--codecs raw,zstd-1");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = parse_json(r);
  EXPECT_EQ(j["input"], model);
  EXPECT_EQ(j["bytes"], 264128);  // (1056540 - 28) / 4 floats, one INT8 byte each
}

TEST(BenchCodecsCli, UsageErrorsFail) {
  const std::string model = std::string(DCLLM_SHARED_DATA) + "/stories260K.bin";
  // Float input without --quantize, an unknown codec, no input at all, both inputs at once.
  for (const std::string& args :
       {"bench codecs --input " + model + " --dtype f32 --offset 28 --runs 1",
        std::string("bench codecs --synthetic laplace --size 1000 --runs 1 --codecs gzip"),
        std::string("bench codecs --runs 1"),
        "bench codecs --synthetic laplace --input " + model + " --dtype i8",
        std::string("bench codecs --synthetic nope --size 1000"), std::string("bench")}) {
    const CliResult r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
  }
}

TEST(BenchDecodeThreadsCli, JsonSchema) {
  const CliResult r = run_cli(
      "bench decode-threads --synthetic gauss-outlier --size 2000000 --threads 2 "
      "--runs 1 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const nlohmann::json j = parse_json(r);
  EXPECT_EQ(j["input"], "synthetic:gauss-outlier");
  EXPECT_EQ(j["bytes"], 2000000);
  EXPECT_EQ(j["threads"], 2);
  for (const char* key : {"mbps_1", "mbps_n", "speedup"}) {
    ASSERT_TRUE(j[key].is_number()) << key;
    EXPECT_GT(j[key].get<double>(), 0.0) << key;
  }
  EXPECT_NEAR(j["speedup"].get<double>(), j["mbps_n"].get<double>() / j["mbps_1"].get<double>(),
              1e-9);
}

}  // namespace
}  // namespace dcllm
