// GGUF container parsing: every metadata type (nested arrays too), tensor infos, alignment,
// and each kind of malformed file giving a one-line error that names the file and the fault.
#include <gtest/gtest.h>

#include "model/gguf_builder.h"
#include "model/gguf_file.h"

namespace dcllm {
namespace {

using testing::GgufBuilder;

Expected<GgufFile> parse(const std::vector<uint8_t>& bytes) {
  return parse_gguf(bytes, "t.gguf");
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  auto r = parse(bytes);
  ASSERT_FALSE(r.ok()) << "expected an error containing '" << fragment << "'";
  const std::string& m = r.status().message();
  EXPECT_EQ(m.rfind("t.gguf: ", 0), 0u) << m;
  EXPECT_NE(m.find(fragment), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(GgufFile, ReadsEveryValueType) {
  GgufBuilder b;
  b.kv("u8", 0, uint8_t{200})
      .kv("i8", 1, int8_t{-100})
      .kv("u16", 2, uint16_t{60000})
      .kv("i16", 3, int16_t{-30000})
      .kv_u32("u32", 4000000000u)
      .kv("i32", 5, int32_t{-2000000000})
      .kv_f32("f32", 1.5f)
      .kv_bool("bool", true)
      .kv_str("str", "hello")
      .kv("u64", 10, uint64_t{1} << 60)
      .kv("i64", 11, int64_t{-(int64_t{1} << 60)})
      .kv("f64", 12, 2.25)
      .kv_array<int32_t>("arr_i32", 5, {1, -2, 3})
      .kv_str_array("arr_str", {"a", "", "ccc"});
  // An array of two arrays of u8: [[7, 8], [9]].
  std::vector<uint8_t> nested;
  GgufBuilder::put<uint32_t>(nested, 9);
  GgufBuilder::put<uint64_t>(nested, 2);
  GgufBuilder::put<uint32_t>(nested, 0);
  GgufBuilder::put<uint64_t>(nested, 2);
  nested.push_back(7);
  nested.push_back(8);
  GgufBuilder::put<uint32_t>(nested, 0);
  GgufBuilder::put<uint64_t>(nested, 1);
  nested.push_back(9);
  b.kv_raw("nested", 9, nested);

  auto f = parse(b.build());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->version, 3u);
  EXPECT_EQ(f->metadata.size(), 15u);
  int64_t v = 0;
  ASSERT_TRUE(f->find("u8")->as_int64(&v));
  EXPECT_EQ(v, 200);
  ASSERT_TRUE(f->find("i8")->as_int64(&v));
  EXPECT_EQ(v, -100);
  ASSERT_TRUE(f->find("u16")->as_int64(&v));
  EXPECT_EQ(v, 60000);
  ASSERT_TRUE(f->find("i16")->as_int64(&v));
  EXPECT_EQ(v, -30000);
  ASSERT_TRUE(f->find("u32")->as_int64(&v));
  EXPECT_EQ(v, 4000000000);
  ASSERT_TRUE(f->find("i32")->as_int64(&v));
  EXPECT_EQ(v, -2000000000);
  EXPECT_EQ(f->find("f32")->f, 1.5);
  EXPECT_EQ(f->find("bool")->u, 1u);
  EXPECT_EQ(f->find("str")->str, "hello");
  EXPECT_EQ(f->find("u64")->u, uint64_t{1} << 60);
  EXPECT_EQ(f->find("i64")->i, -(int64_t{1} << 60));
  EXPECT_EQ(f->find("f64")->f, 2.25);

  const GgufValue* a = f->find("arr_i32");
  ASSERT_EQ(a->count, 3u);
  EXPECT_EQ(a->elem_type, GgufValueType::kInt32);
  EXPECT_EQ(a->packed_element(1).i, -2);
  EXPECT_EQ(a->to_display(), "[i32 x 3]");
  const GgufValue* s = f->find("arr_str");
  ASSERT_EQ(s->items.size(), 3u);
  EXPECT_EQ(s->items[2].str, "ccc");
  EXPECT_EQ(s->items[1].str, "");
  const GgufValue* n = f->find("nested");
  ASSERT_EQ(n->items.size(), 2u);
  EXPECT_EQ(n->items[0].count, 2u);
  EXPECT_EQ(n->items[0].packed_element(1).u, 8u);
  EXPECT_EQ(n->items[1].packed_element(0).u, 9u);
  EXPECT_TRUE(f->tensors.empty());
}

TEST(GgufFile, TensorInfosAndAlignment) {
  GgufBuilder b;
  b.alignment(64);
  b.tensor_f32("a", {3}, {1, 2, 3});
  b.tensor("b", {32, 2}, 8, std::vector<uint8_t>(2 * 34, 0));  // Q8_0: 2 blocks
  auto f = parse(b.build());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->alignment, 64u);
  EXPECT_EQ(f->data_offset % 64, 0u);
  ASSERT_EQ(f->tensors.size(), 2u);
  EXPECT_EQ(f->tensors[0].bytes, 12u);
  EXPECT_EQ(f->tensors[0].offset, 0u);
  EXPECT_EQ(f->tensors[1].offset, 64u);
  EXPECT_EQ(f->tensors[1].bytes, 68u);
  EXPECT_EQ(f->tensors[1].ne, (std::vector<uint64_t>{32, 2}));
}

TEST(GgufFile, Version2Reads) {
  GgufBuilder b(2);
  b.kv_str("general.architecture", "llama");
  EXPECT_TRUE(parse(b.build()).ok());
}

TEST(GgufFile, BadMagicAndVersions) {
  auto bytes = GgufBuilder().build();
  bytes[0] = 'X';
  expect_error(bytes, "bad magic");
  expect_error(GgufBuilder(1).build(), "v1");
  expect_error(GgufBuilder(7).build(), "version 7");
  expect_error({'G', 'G'}, "magic");
}

TEST(GgufFile, EveryTruncationFailsCleanly) {
  GgufBuilder b;
  b.kv_str("general.architecture", "llama").kv_str_array("list", {"x", "yy"});
  b.tensor_f32("w", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const auto full = b.build();
  ASSERT_TRUE(parse(full).ok());
  for (size_t len = 0; len < full.size(); ++len) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    EXPECT_FALSE(parse(cut).ok()) << "prefix of " << len << " bytes parsed";
  }
}

TEST(GgufFile, CountsBeyondTheFile) {
  expect_error(GgufBuilder().counts_override(0, uint64_t{1} << 40).build(), "metadata count");
  expect_error(GgufBuilder().counts_override(uint64_t{1} << 62, 0).build(), "tensor count");
}

TEST(GgufFile, StringLengthPastEnd) {
  std::vector<uint8_t> p;
  GgufBuilder::put<uint64_t>(p, 1000);
  p.push_back('x');
  expect_error(GgufBuilder().kv_raw("k", 8, p).build(), "runs past the end");
}

TEST(GgufFile, ArrayCountPastEnd) {
  std::vector<uint8_t> p;
  GgufBuilder::put<uint32_t>(p, 10);  // u64 elements
  GgufBuilder::put<uint64_t>(p, uint64_t{1} << 61);
  expect_error(GgufBuilder().kv_raw("k", 9, p).build(), "claims");
}

TEST(GgufFile, UnknownValueTypes) {
  expect_error(GgufBuilder().kv("k", 13, uint8_t{0}).build(), "unknown value type 13");
  std::vector<uint8_t> p;
  GgufBuilder::put<uint32_t>(p, 99);
  GgufBuilder::put<uint64_t>(p, 0);
  expect_error(GgufBuilder().kv_raw("k", 9, p).build(), "unknown element type 99");
}

TEST(GgufFile, BadBoolAndDuplicateKeys) {
  expect_error(GgufBuilder().kv("k", 7, uint8_t{2}).build(), "bool");
  expect_error(GgufBuilder().kv_u32("k", 1).kv_u32("k", 2).build(), "appears twice");
}

TEST(GgufFile, NestingTooDeep) {
  std::vector<uint8_t> p;
  for (int i = 0; i < 20; ++i) {
    GgufBuilder::put<uint32_t>(p, 9);
    GgufBuilder::put<uint64_t>(p, 1);
  }
  GgufBuilder::put<uint32_t>(p, 0);
  GgufBuilder::put<uint64_t>(p, 0);
  // The value's own type is the array; strip the leading element-type/count pair into it.
  expect_error(GgufBuilder().kv_raw("deep", 9, p).build(), "nests deeper");
}

TEST(GgufFile, BadAlignment) {
  expect_error(GgufBuilder().kv_u32("general.alignment", 24).build(), "alignment");
  expect_error(GgufBuilder().kv_u32("general.alignment", 0).build(), "alignment");
}

TEST(GgufFile, UnknownTensorTypeIsUnsupported) {
  GgufBuilder b;
  b.tensor("q3", {256}, 11, std::vector<uint8_t>(110, 0));
  auto r = parse(b.build());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("Q3_K"), std::string::npos);
  GgufBuilder c;
  c.tensor("x", {4}, 1234, std::vector<uint8_t>(16, 0));
  expect_error(c.build(), "type 1234");
}

TEST(GgufFile, TensorExtentsChecked) {
  {
    GgufBuilder b;
    b.tensor("past", {1024}, 0, {}, 0);  // 4096 bytes claimed, none present
    expect_error(b.build(), "tensor 'past'");
  }
  {
    GgufBuilder b;
    b.tensor_f32("a", {8}, std::vector<float>(8, 1.0f));
    b.tensor("misaligned", {1}, 0, {}, 4);
    expect_error(b.build(), "not a multiple of the alignment");
  }
  {
    GgufBuilder b;
    b.tensor("huge", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, {}, 0);
    expect_error(b.build(), "overflows");
  }
  {
    GgufBuilder b;
    b.tensor("zero", {0, 4}, 0, {}, 0);
    expect_error(b.build(), "zero");
  }
  {
    GgufBuilder b;
    b.tensor("rank5", {1, 1, 1, 1, 1}, 0, {}, 0);
    expect_error(b.build(), "5 dimensions");
  }
  {
    GgufBuilder b;
    b.tensor("partial_block", {16}, 8, std::vector<uint8_t>(34, 0));
    expect_error(b.build(), "block size 32");
  }
  {
    GgufBuilder b;
    b.tensor_f32("dup", {1}, {1.0f});
    b.tensor_f32("dup", {1}, {2.0f});
    expect_error(b.build(), "appears twice");
  }
}

TEST(GgufFile, HeaderLargerThanFile) {
  GgufBuilder b;
  b.tensor("t", {1}, 0, {}, 0);
  auto bytes = b.build();
  bytes.resize(bytes.size() - 1);  // cut into the padding before the data section
  auto r = parse(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("t.gguf"), std::string::npos);
}

}  // namespace
}  // namespace dcllm
