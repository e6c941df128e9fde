// safetensors parsing: values of every float dtype come back exact, metadata is read, and each
// malformed layout (sizes, offsets, overlaps, gaps, dtypes, shards) is one error naming the file.
#include "model/safetensors_file.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace dcllm {
namespace {

// A safetensors file from a header object and a data buffer.
std::vector<uint8_t> build(const nlohmann::json& header, const std::vector<uint8_t>& data) {
  const std::string text = header.dump();
  std::vector<uint8_t> out(8 + text.size() + data.size());
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + text.size(), data.data(), data.size());
  return out;
}

template <typename T>
void append(std::vector<uint8_t>& data, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  data.insert(data.end(), p, p + sizeof(T));
}

nlohmann::json entry(const char* dtype, std::vector<int64_t> shape, uint64_t b, uint64_t e) {
  return {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {b, e}}};
}

// F32 [2], F16 [3], BF16 [2]: 4-byte values first, as writers lay them out.
std::vector<uint8_t> sample() {
  std::vector<uint8_t> data;
  append(data, 1.5f);
  append(data, -0.0f);
  append<uint16_t>(data, 0x3c00);  // f16 1.0
  append<uint16_t>(data, 0x0001);  // f16 smallest subnormal, 2^-24
  append<uint16_t>(data, 0xfc00);  // f16 -inf
  append<uint16_t>(data, 0x4049);  // bf16 3.140625
  append<uint16_t>(data, 0xbf80);  // bf16 -1.0
  nlohmann::json h = {{"a", entry("F32", {2}, 0, 8)},
                      {"b", entry("F16", {3, 1}, 8, 14)},
                      {"c", entry("BF16", {1, 2}, 14, 18)},
                      {"__metadata__", {{"format", "pt"}}}};
  return build(h, data);
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  auto f = parse_safetensors(bytes, "m.safetensors");
  if (f.ok()) return "";
  EXPECT_NE(f.status().message().find("m.safetensors"), std::string::npos);
  EXPECT_EQ(f.status().message().find('\n'), std::string::npos);
  return f.status().message();
}

TEST(Safetensors, ReadsEveryFloatDtypeExactly) {
  const auto bytes = sample();
  auto f = parse_safetensors(bytes, "m.safetensors");
  ASSERT_TRUE(f.ok()) << f.status().message();
  ASSERT_EQ(f->tensors.size(), 3u);
  ASSERT_EQ(f->metadata.size(), 1u);
  EXPECT_EQ(f->metadata[0], (std::pair<std::string, std::string>{"format", "pt"}));
  std::vector<float> a(2), b(3), c(2);
  ASSERT_TRUE(tensor_to_f32(*f->find("a"), a, "m").ok());
  ASSERT_TRUE(tensor_to_f32(*f->find("b"), b, "m").ok());
  ASSERT_TRUE(tensor_to_f32(*f->find("c"), c, "m").ok());
  EXPECT_EQ(a[0], 1.5f);
  EXPECT_TRUE(a[1] == 0.0f && std::signbit(a[1]));
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(b[2], -INFINITY);
  EXPECT_EQ(c[0], 3.140625f);
  EXPECT_EQ(c[1], -1.0f);
  EXPECT_EQ(f->find("b")->shape, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(f->find("zzz"), nullptr);
}

TEST(Safetensors, OtherDtypesValidateButDoNotConvert) {
  std::vector<uint8_t> data(16, 0);
  auto bytes = build({{"ids", entry("I64", {2}, 0, 16)}}, data);
  auto f = parse_safetensors(bytes, "m.safetensors");
  ASSERT_TRUE(f.ok()) << f.status().message();
  std::vector<float> out(2);
  Status st = tensor_to_f32(f->tensors[0], out, "m.safetensors");
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("I64"), std::string::npos);
}

TEST(Safetensors, RefusesMalformedLayouts) {
  const std::vector<uint8_t> four(4, 0), eight(8, 0);
  auto with_len = [](uint64_t n) {
    std::vector<uint8_t> b(8);
    std::memcpy(b.data(), &n, 8);
    b.insert(b.end(), {'{', '}'});
    return b;
  };
  auto raw_header = [](const std::string& text) {
    std::vector<uint8_t> b(8);
    const uint64_t n = text.size();
    std::memcpy(b.data(), &n, 8);
    b.insert(b.end(), text.begin(), text.end());
    return b;
  };
  auto f32_with = [](const char* key, nlohmann::json value) {
    nlohmann::json e = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}};
    e[key] = std::move(value);
    return nlohmann::json{{"a", e}};
  };
  using nlohmann::json;
  const std::pair<std::vector<uint8_t>, const char*> cases[] = {
      {{1, 2, 3}, "shorter than"},
      {with_len(0), "empty JSON header"},
      {with_len(200'000'000), "100 MB"},
      {with_len(50), "runs past the end"},
      {build(nlohmann::json::array(), {}), "not a JSON object"},
      {raw_header("{\"a\": "), "not a JSON object"},
      {raw_header("{\"a\": \"\xff\xfe\"}"), "not a JSON object"},  // not UTF-8
      {build({{"a", 3}}, {}), "is not an object"},
      {build({{"a", {{"shape", {1}}, {"data_offsets", {0, 4}}}}}, four), "dtype"},
      {build({{"a", entry("F33", {1}, 0, 4)}}, four), "unknown dtype"},
      {build({{"a", {{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}}, four),
       "dimension"},
      {build({{"a", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0}}}}}, four),
       "data_offsets"},
      {build({{"a", entry("F32", {1}, 4, 0)}}, four), "begin after"},
      {build({{"a", entry("F32", {1}, 0, 8)}}, four), "past the data buffer"},
      {build({{"a", entry("F32", {2}, 0, 4)}}, four), "need 8"},
      {build({{"a", entry("F32", {uint64_t{1} << 62, 8}, 0, 4)}}, four), "too large"},
      {build({{"a", entry("F32", {1}, 0, 4)}, {"b", entry("F32", {1}, 0, 4)}}, four), "overlaps"},
      {build({{"a", entry("F32", {1}, 4, 8)}}, eight), "belong to no tensor"},
      {build({{"a", entry("F32", {1}, 0, 4)}}, eight), "belong to no tensor"},
      {build({{"a", entry("F32", {1}, 0, 4)}, {"__metadata__", {{"k", 1}}}}, four), "__metadata__"},
      {build({{"a", entry("F32", {1}, 0, 4)}, {"__metadata__", "x"}}, four), "__metadata__"},
      {build(f32_with("dtype", 32), four), "dtype"},
      {build(f32_with("shape", 1), four), "shape"},
      {build(f32_with("shape", json::array({1.0})), four), "dimension"},
      {build(f32_with("data_offsets", json::array({-4, 0})), four), "data_offsets"},
      {build(f32_with("data_offsets", json::array({0.0, 4.0})), four), "data_offsets"},
      {build(f32_with("data_offsets", json::array({0, 4, 8})), four), "data_offsets"},
      {build(f32_with("data_offsets", "0-4"), four), "data_offsets"},
      // numel is 0, but the partial product 2^63 would overflow numel()'s int64_t.
      {build({{"a", entry("F32", {int64_t{1} << 62, 2, 0}, 0, 0)}}, {}), "too large"},
      {build(
           {{"a", {{"dtype", "F32"}, {"shape", {0, uint64_t{1} << 63}}, {"data_offsets", {0, 0}}}}},
           {}),
       "too large"},
  };
  for (const auto& [bytes, fault] : cases) {
    const std::string err = parse_error(bytes);
    EXPECT_NE(err.find(fault), std::string::npos) << "want '" << fault << "', got: " << err;
  }
}

TEST(Safetensors, EmptyTensorsMayShareAnOffset) {
  std::vector<uint8_t> data;
  append(data, 7.0f);
  auto bytes = build({{"a", entry("F32", {1}, 0, 4)},
                      {"e1", entry("F16", {0}, 4, 4)},
                      {"e2", entry("BF16", {4, 0}, 4, 4)}},
                     data);
  auto f = parse_safetensors(bytes, "m.safetensors");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->tensors.front().name, "a");
  EXPECT_EQ(f->find("e2")->numel(), 0);
  std::vector<float> none;
  EXPECT_TRUE(tensor_to_f32(*f->find("e2"), none, "m.safetensors").ok());
}

TEST(Safetensors, TensorsComeInOffsetOrder) {
  std::vector<uint8_t> data;
  append(data, 1.0f);
  append(data, 2.0f);
  // JSON objects iterate by key; "z" holds the first bytes so must come first.
  auto bytes = build({{"a", entry("F32", {1}, 4, 8)}, {"z", entry("F32", {1}, 0, 4)}}, data);
  auto f = parse_safetensors(bytes, "m.safetensors");
  ASSERT_TRUE(f.ok()) << f.status().message();
  ASSERT_EQ(f->tensors.size(), 2u);
  EXPECT_EQ(f->tensors[0].name, "z");
  EXPECT_EQ(f->tensors[1].name, "a");
  EXPECT_EQ(f->tensors[1].bytes.data(), f->tensors[0].bytes.data() + 4);
}

TEST(Safetensors, ConversionChecksSizes) {
  const auto bytes = sample();
  auto f = parse_safetensors(bytes, "m.safetensors");
  ASSERT_TRUE(f.ok()) << f.status().message();
  std::vector<float> wrong(3);
  EXPECT_FALSE(tensor_to_f32(*f->find("a"), wrong, "m.safetensors").ok());
  SafetensorsTensor cut = *f->find("b");
  cut.bytes = cut.bytes.first(4);  // 2 elements of bytes for a shape of 3
  std::vector<float> three(3);
  EXPECT_FALSE(tensor_to_f32(cut, three, "m.safetensors").ok());
}

TEST(Safetensors, EveryTruncationIsAnError) {
  const auto bytes = sample();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));
    EXPECT_FALSE(parse_safetensors(cut, "m.safetensors").ok()) << n;
  }
}

class SafetensorsShards : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "st_shards_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream(dir_ + "/" + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::vector<uint8_t> one(const char* tensor, float v) {
    std::vector<uint8_t> data;
    append(data, v);
    return build({{tensor, entry("F32", {1}, 0, 4)}}, data);
  }
  std::string dir_;
};

TEST_F(SafetensorsShards, FindsTensorsAcrossShards) {
  write("a.safetensors", one("x", 1.0f));
  write("b.safetensors", one("y", 2.0f));
  write("model.safetensors.index.json",
        R"({"metadata": {}, "weight_map": {"x": "a.safetensors", "y": "b.safetensors"}})");
  auto ck = SafetensorsCheckpoint::open(dir_);
  ASSERT_TRUE(ck.ok()) << ck.status().message();
  ASSERT_NE(ck->find("y"), nullptr);
  std::vector<float> v(1);
  ASSERT_TRUE(tensor_to_f32(*ck->find("y"), v, "").ok());
  EXPECT_EQ(v[0], 2.0f);
  EXPECT_EQ(ck->file_of(*ck->find("y")), dir_ + "/b.safetensors");
  EXPECT_EQ(ck->files().size(), 2u);
}

TEST_F(SafetensorsShards, ReadsASingleFile) {
  write("model.safetensors", sample());
  auto ck = SafetensorsCheckpoint::open(dir_);
  ASSERT_TRUE(ck.ok()) << ck.status().message();
  ASSERT_EQ(ck->tensors().size(), 3u);
  ASSERT_NE(ck->find("c"), nullptr);
  EXPECT_EQ(ck->file_of(*ck->find("c")), dir_ + "/model.safetensors");
  EXPECT_EQ(ck->files()[0].metadata.size(), 1u);
}

TEST_F(SafetensorsShards, ListsTensorsInShardThenOffsetOrder) {
  std::vector<uint8_t> data;
  append(data, 1.0f);
  append(data, 2.0f);
  write("b.safetensors",
        build({{"q", entry("F32", {1}, 4, 8)}, {"r", entry("F32", {1}, 0, 4)}}, data));
  write("a.safetensors", one("x", 3.0f));
  write("model.safetensors.index.json",
        R"({"weight_map": {"q": "b.safetensors", "r": "b.safetensors", "x": "a.safetensors"}})");
  auto ck = SafetensorsCheckpoint::open(dir_);
  ASSERT_TRUE(ck.ok()) << ck.status().message();
  std::vector<std::string> names;
  for (const SafetensorsTensor* t : ck->tensors()) names.push_back(t->name);
  EXPECT_EQ(names, (std::vector<std::string>{"r", "q", "x"}));
}

TEST_F(SafetensorsShards, SingleFileWinsOverAStaleIndex) {
  write("model.safetensors", one("w", 5.0f));
  write("model.safetensors.index.json", R"({"weight_map": {"x": "gone.safetensors"}})");
  auto ck = SafetensorsCheckpoint::open(dir_);
  ASSERT_TRUE(ck.ok()) << ck.status().message();
  EXPECT_NE(ck->find("w"), nullptr);
}

TEST_F(SafetensorsShards, NamesWhatIsWrong) {
  auto open_error = [&] {
    auto ck = SafetensorsCheckpoint::open(dir_);
    return ck.ok() ? std::string() : ck.status().message();
  };
  EXPECT_NE(open_error().find("neither model.safetensors"), std::string::npos);
  EXPECT_NE(open_error().find(dir_), std::string::npos);
  EXPECT_NE(open_error().find("model.safetensors.index.json"), std::string::npos);
  write("model.safetensors.index.json", R"({"weight_map": {"x": "missing.safetensors"}})");
  EXPECT_NE(open_error().find("missing.safetensors"), std::string::npos);
  write("model.safetensors.index.json", R"({"weight_map": {"x": "../etc/passwd"}})");
  EXPECT_NE(open_error().find("plain file name"), std::string::npos);
  write("model.safetensors.index.json", R"({"weight_map": {"x": ".."}})");
  EXPECT_NE(open_error().find("plain file name"), std::string::npos);
  write("model.safetensors.index.json", R"({"weight_map": {"x": ""}})");
  EXPECT_NE(open_error().find("plain file name"), std::string::npos);
  write("model.safetensors.index.json", R"({"weight_map": {"x": 3}})");
  EXPECT_NE(open_error().find("not a file name"), std::string::npos);
  write("model.safetensors.index.json", R"({"weight_map": )");
  EXPECT_NE(open_error().find("not a JSON object"), std::string::npos);
  write("a.safetensors", one("x", 1.0f));
  write("b.safetensors", one("x", 2.0f));
  write("model.safetensors.index.json",
        R"({"weight_map": {"x": "a.safetensors", "z": "b.safetensors"}})");
  EXPECT_NE(open_error().find("also in"), std::string::npos);
  write("b.safetensors", one("y", 2.0f));
  EXPECT_NE(open_error().find("'z' is not in shard"), std::string::npos);
  write("model.safetensors.index.json", R"({"weight_map": []})");
  EXPECT_NE(open_error().find("weight_map"), std::string::npos);
}

}  // namespace
}  // namespace dcllm
