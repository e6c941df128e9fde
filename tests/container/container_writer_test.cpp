// ContainerWriter's promises: a failed, abandoned or rejected write leaves neither the target
// nor a temporary file, bad arguments are refused without breaking the writer, and a file
// already at the target survives until finish() replaces it.
#include <gtest/gtest.h>

#include <filesystem>

#include "container/container_test_files.h"
#include "dcllm/container.h"

namespace dcllm {
namespace {

using testing::read_bytes;
using testing::ScratchDir;
using testing::write_bytes;

TensorSpec i8_spec(std::string name, std::vector<uint64_t> shape) {
  return {std::move(name), std::move(shape), DType::kI8, {}};
}

TEST(ContainerWriter, NonexistentDirectoryFailsAndLeavesNothing) {
  ScratchDir dir;
  std::string path = dir.file("missing/sub/model.dcllm");
  auto w = ContainerWriter::create(path);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kIoError);
  EXPECT_NE(w.status().message().find("missing/sub/model.dcllm"), std::string::npos);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ContainerWriter, AbandonedWriterLeavesNoTargetAndNoTemporaryFile) {
  ScratchDir dir;
  std::string path = dir.file("model.dcllm");
  {
    auto w = ContainerWriter::create(path, {{"a", 1}});
    ASSERT_TRUE(w.ok());
    std::vector<uint8_t> raw(100000, 7);
    ASSERT_TRUE(w->add_tensor(i8_spec("t", {100000}), raw, "zstd-1", 4096).ok());
    // Unnamed (O_TMPFILE) or named and removed on failure: either way nothing is left after.
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ContainerWriter, MovedWriterCleansUpOnce) {
  ScratchDir dir;
  std::string path = dir.file("model.dcllm");
  {
    auto w = ContainerWriter::create(path);
    ASSERT_TRUE(w.ok());
    ContainerWriter moved = std::move(*w);
    std::vector<uint8_t> raw(10, 1);
    ASSERT_TRUE(moved.add_tensor(i8_spec("t", {10}), raw, "raw").ok());
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ContainerWriter, ExistingTargetSurvivesUntilFinish) {
  ScratchDir dir;
  std::string path = dir.file("model.dcllm");
  std::vector<uint8_t> old_content = {'o', 'l', 'd'};
  write_bytes(path, old_content);
  {
    auto w = ContainerWriter::create(path);
    ASSERT_TRUE(w.ok());
    std::vector<uint8_t> raw(10, 1);
    ASSERT_TRUE(w->add_tensor(i8_spec("t", {10}), raw, "raw").ok());
  }
  EXPECT_EQ(read_bytes(path), old_content);
  EXPECT_EQ(dir.entries().size(), 1u);

  auto w = ContainerWriter::create(path);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->finish().ok());
  EXPECT_TRUE(ModelContainer::open(path).ok());
  EXPECT_EQ(dir.entries().size(), 1u);
}

TEST(ContainerWriter, RejectsBadArgumentsWithoutBreakingTheWriter) {
  ScratchDir dir;
  std::string path = dir.file("model.dcllm");
  EXPECT_EQ(ContainerWriter::create(path, nlohmann::json::array()).status().code(),
            StatusCode::kInvalidArgument);
  // nlohmann stores the string as is; dumping invalid UTF-8 must be refused, not thrown.
  EXPECT_EQ(ContainerWriter::create(path, {{"bad", std::string("\xFF\xFE")}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(dir.entries().empty());

  auto w = ContainerWriter::create(path);
  ASSERT_TRUE(w.ok());
  std::vector<uint8_t> raw(12, 3);
  auto expect_invalid = [&](const TensorSpec& s, std::span<const uint8_t> bytes,
                            std::string_view codec, uint64_t chunk = 0) {
    Status st = w->add_tensor(s, bytes, codec, chunk);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << s.name << ": " << st.message();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  };
  expect_invalid(i8_spec("t", {13}), raw, "raw");  // size mismatch
  expect_invalid(i8_spec("", {12}), raw, "raw");   // empty name
  expect_invalid(i8_spec(std::string(kMaxTensorNameBytes + 1, 'n'), {12}), raw, "raw");
  expect_invalid(i8_spec("\xC0\x80", {12}), raw, "raw");                   // overlong UTF-8
  expect_invalid(i8_spec("t", {1, 1, 1, 1, 1, 1, 1, 1, 12}), raw, "raw");  // 9 dims
  expect_invalid(i8_spec("t", {12}), raw, "no-such-codec");
  expect_invalid(i8_spec("t", {uint64_t{1} << 40, uint64_t{1} << 40}), raw, "raw");  // overflow
  expect_invalid({"t", {3, 4}, DType::kI8, {QuantScheme::kPerChannel, 0, {1, 2}}}, raw, "raw");
  expect_invalid({"t", {3, 4}, DType::kI8, {QuantScheme::kPerTensor, 0, {}}}, raw, "raw");
  expect_invalid({"t", {3, 4}, DType::kI8, {QuantScheme::kGroup, 0, {}}}, raw, "raw");
  expect_invalid({"t", {3, 4}, DType::kI8, {QuantScheme::kNone, 4, {}}}, raw, "raw");
  expect_invalid({"t", {3, 4}, DType::kI8, {QuantScheme::kGroup, 3, {1, 2, 3}}}, raw, "raw");
  std::vector<std::string> two_codecs = {"raw", "raw"};
  EXPECT_EQ(w->add_tensor(i8_spec("t", {12}), raw, two_codecs, 4).code(),
            StatusCode::kInvalidArgument);  // 3 chunks, 2 codecs

  ASSERT_TRUE(w->add_tensor({"t", {3, 4}, DType::kI8, {QuantScheme::kGroup, 3, {1, 2, 3, 4, 5, 6}}},
                            raw, "raw")
                  .ok());
  expect_invalid(i8_spec("t", {12}), raw, "raw");  // duplicate name
  ASSERT_TRUE(w->finish().ok());
  EXPECT_EQ(w->finish().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w->add_tensor(i8_spec("u", {12}), raw, "raw").code(), StatusCode::kInvalidArgument);

  auto c = ModelContainer::open(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->tensors().size(), 1u);
  EXPECT_EQ(quant_scheme_name(c->tensors()[0].spec.quant), "group:3");
  EXPECT_TRUE(verify_container(*c).ok());
}

TEST(ContainerWriter, ChunkCountFollowsChunkBytes) {
  EXPECT_EQ(container_chunk_count(0, 0), 0u);
  EXPECT_EQ(container_chunk_count(0, 16), 0u);
  EXPECT_EQ(container_chunk_count(1, 0), 1u);
  EXPECT_EQ(container_chunk_count(32, 16), 2u);
  EXPECT_EQ(container_chunk_count(33, 16), 3u);
  EXPECT_EQ(container_chunk_count(kMaxChunkRawBytes + 1, 0), 2u);
}

TEST(ContainerWriter, ScaleCounts) {
  std::vector<uint64_t> shape = {2, 3, 10};
  EXPECT_EQ(*expected_scale_count({QuantScheme::kNone, 0, {}}, shape), 0u);
  EXPECT_EQ(*expected_scale_count({QuantScheme::kPerTensor, 0, {}}, shape), 1u);
  EXPECT_EQ(*expected_scale_count({QuantScheme::kPerChannel, 0, {}}, shape), 6u);
  EXPECT_EQ(*expected_scale_count({QuantScheme::kGroup, 4, {}}, shape), 18u);
  EXPECT_EQ(*expected_scale_count({QuantScheme::kGroup, 5, {}}, shape), 12u);
  EXPECT_EQ(*expected_scale_count({QuantScheme::kPerChannel, 0, {}}, {}), 1u);
  EXPECT_FALSE(expected_scale_count({QuantScheme::kGroup, 0, {}}, shape).ok());
}

}  // namespace
}  // namespace dcllm
