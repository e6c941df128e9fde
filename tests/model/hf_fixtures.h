// The tiny Hugging Face checkpoints in tests/data/hf (made by scripts/make_hf_fixtures.py with
// transformers) and their reference logits, shared by the reader, scaling and CLI tests.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dcllm::testing_hf {

inline const std::string kHfData = std::string(DCLLM_TEST_DATA) + "/hf";

// The fixtures with reference outputs: each family, OPT with and without project_in/out.
inline const std::vector<std::string> kHfFixtures = {"llama", "opt", "opt-proj", "gpt2"};

inline std::string fixture_dir(const std::string& name) {
  return kHfData + "/" + name;
}

// "opt-proj" -> "opt_proj": test names allow no '-'.
inline std::string fixture_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (char& ch : n) ch = ch == '-' ? '_' : ch;
  return n;
}

struct HfReference {
  std::vector<std::vector<int32_t>> sequences;
  std::vector<float> logits;  // [n_seq][seq_len][vocab]
  int64_t seq_len = 0;
  int64_t vocab = 0;
  nlohmann::json texts;  // [{"text", "ids"}]
};

inline HfReference load_reference(const std::string& name) {
  HfReference r;
  std::ifstream in(fixture_dir(name) + "/reference.json");
  EXPECT_TRUE(in.good()) << name;
  const nlohmann::json j = nlohmann::json::parse(in);
  for (const auto& s : j.at("sequences")) r.sequences.push_back(s.get<std::vector<int32_t>>());
  const auto shape = j.at("shape").get<std::vector<int64_t>>();
  EXPECT_EQ(shape.size(), 3u);
  r.seq_len = shape[1];
  r.vocab = shape[2];
  r.texts = j.value("texts", nlohmann::json::array());
  std::ifstream bin(fixture_dir(name) + "/" + j.at("logits_file").get<std::string>(),
                    std::ios::binary);
  r.logits.resize(static_cast<size_t>(shape[0] * shape[1] * shape[2]));
  bin.read(reinterpret_cast<char*>(r.logits.data()),
           static_cast<std::streamsize>(r.logits.size() * sizeof(float)));
  EXPECT_TRUE(bin.good()) << name;
  return r;
}

// max |a - b| / max |a|: the largest error relative to the logits' scale.
inline double max_relative_error(const float* a, const float* b, size_t n) {
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; ++i) {
    err = std::max(err, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(a[i])));
  }
  return err / scale;
}

}  // namespace dcllm::testing_hf
