// JSON nesting limits and one-line messages: every parser of a user file refuses a 100,000-deep
// value with one line naming the file (before the fix these crashed), and one_line_message()
// makes any message a single bounded line with its control characters visible.
#include "core/json_limits.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "core/hostile_json_files.h"
#include "dcllm/container.h"
#include "model/hf_config.h"
#include "model/hf_tokenizer_json.h"
#include "model/printable.h"
#include "model/safetensors_file.h"

namespace dcllm {
namespace {

using testing::deep_json_array;
using testing::write_deep_metadata_container;

constexpr size_t kDeep = 100000;

std::string deep_array(size_t depth) {
  return deep_json_array(depth);
}

void expect_depth_error(const Status& st, const std::string& file) {
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorrupt);
  EXPECT_NE(st.message().find(file), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("nests deeper than 64"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
  EXPECT_LT(st.message().size(), 300u);
}

TEST(JsonLimits, DepthIsCountedOutsideStringsOnly) {
  EXPECT_TRUE(check_json_depth(deep_array(64), "f").ok());
  expect_depth_error(check_json_depth(deep_array(65), "f.json"), "f.json");
  expect_depth_error(check_json_depth(std::string(65, '{'), "f.json"), "f.json");
  // Brackets inside strings, escaped quotes included, are text.
  const std::string in_string =
      "[\"" + std::string(200, '[') + "\\\"" + std::string(200, '{') + "\"]";
  EXPECT_TRUE(check_json_depth(in_string, "f").ok());
  // An escaped backslash ends before the quote, which then closes the string.
  EXPECT_FALSE(check_json_depth("[\"\\\\\"" + std::string(100, '['), "f").ok());
  // Closes never count below zero, so leading ]s cannot hide later opens.
  EXPECT_FALSE(check_json_depth(std::string(100, ']') + std::string(65, '['), "f").ok());
  // Siblings do not add up.
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += "[[1]],";
  wide += "0]";
  EXPECT_TRUE(check_json_depth(wide, "f").ok());
}

TEST(JsonLimits, ParseUntrustedJson) {
  auto ok = parse_untrusted_json(R"({"a": [1, {"b": 2}]})", "x.json");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"][1]["b"], 2);
  auto bad = parse_untrusted_json("{\"a\": ", "x.json", "is broken");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "x.json: is broken");
  expect_depth_error(parse_untrusted_json(deep_array(kDeep), "x.json").status(), "x.json");
}

TEST(JsonLimits, DeepConfigJsonIsOneLineError) {
  const std::string config = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
      "vocab_size": 300, "rope_scaling": )" +
                             deep_array(kDeep) + "}";
  expect_depth_error(parse_hf_config(config, "d/config.json").status(), "d/config.json");
}

TEST(JsonLimits, DeepTokenizerJsonIsOneLineError) {
  const std::string tok = R"({"model": {"type": "BPE", "vocab": )" + deep_array(kDeep) + "}}";
  expect_depth_error(parse_hf_tokenizer_json(tok, "", "d/tokenizer.json").status(),
                     "d/tokenizer.json");
  expect_depth_error(
      parse_hf_tokenizer_json("{}", "{\"x\": " + deep_array(kDeep) + "}", "d/tokenizer.json")
          .status(),
      "d/tokenizer_config.json");
}

TEST(JsonLimits, DeepSafetensorsHeaderIsOneLineError) {
  const std::string header = "{\"__metadata__\": " + deep_array(kDeep) + "}";
  std::vector<uint8_t> bytes(8 + header.size());
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  expect_depth_error(parse_safetensors(bytes, "m.safetensors").status(), "m.safetensors");
}

TEST(JsonLimits, DeepDcllmMetadataIsOneLineError) {
  testing::ScratchDir dir;
  const std::string path = dir.file("deep.dcllm");
  ASSERT_TRUE(write_deep_metadata_container(path, kDeep).ok());
  auto c = ModelContainer::open(path);
  expect_depth_error(c.status(), "deep.dcllm: metadata");
}

TEST(OneLineMessage, EscapesControlsAndKeepsText) {
  EXPECT_EQ(one_line_message("a\nb\tc\x7f"), "a\\x0ab\\x09c\\x7f");
  EXPECT_EQ(one_line_message("tok \xE2\x96\x81 caf\xC3\xA9"), "tok \xE2\x96\x81 caf\xC3\xA9");
  // A C1 control (U+009B, CSI to some terminals), a stray continuation byte, a truncated
  // sequence and an overlong '/' are escaped byte by byte.
  EXPECT_EQ(one_line_message("\xC2\x9B|\x80|\xE2\x96|\xC0\xAF"),
            "\\xc2\\x9b|\\x80|\\xe2\\x96|\\xc0\\xaf");
}

TEST(OneLineMessage, CutsKeepingTheBeginning) {
  const std::string msg = "m.gguf: tensor '" + std::string(10000, '\n') + "' is bad";
  const std::string line = one_line_message(msg);
  EXPECT_LE(line.size(), 400u);
  EXPECT_EQ(line.rfind("m.gguf: tensor '\\x0a\\x0a", 0), 0u) << line;
  EXPECT_EQ(line.substr(line.size() - 3), "...");
  // Never cut inside an escape or a character.
  EXPECT_EQ((line.size() - 3 - std::strlen("m.gguf: tensor '")) % 4, 0u);
  const std::string accents = one_line_message(std::string(1000, 'a') + "\xC3\xA9", 1001);
  EXPECT_EQ(accents, std::string(998, 'a') + "...");
  // A message that fits is left whole, even right at the limit.
  EXPECT_EQ(one_line_message(std::string(400, 'x')), std::string(400, 'x'));
}

}  // namespace
}  // namespace dcllm
