// ContainerWriter's promises: a failed, abandoned or rejected write leaves neither the target
// nor a temporary file, bad arguments are refused without breaking the writer, and a file
// already at the target survives until finish() replaces it.
#include <gtest/gtest.h>

#include <cstring>
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

TEST(ContainerWriter, ChunksAreWholeRowsSpreadEvenly) {
  auto split = [](std::vector<uint64_t> shape, DType d, ChunkSplit sp) {
    auto r = split_tensor_rows({"t", std::move(shape), d, {}}, sp);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : ChunkRowSplit{};
  };
  EXPECT_EQ(split({0}, DType::kU8, {}).chunks, 0u);  // no bytes, no chunks
  EXPECT_EQ(split({3, 0}, DType::kU8, {0, 16}).chunks, 0u);
  EXPECT_EQ(split({}, DType::kF32, {}).chunks, 1u);  // a scalar is one row
  EXPECT_EQ(split({1}, DType::kU8, {}).chunks, 1u);
  EXPECT_EQ(split({32}, DType::kU8, {0, 16}).chunks, 2u);  // a vector's rows are its elements
  // [33, 10] in chunks of at most 160 bytes: 16 rows each at most, so 3 chunks of 11 rows.
  const ChunkRowSplit s = split({33, 10}, DType::kI8, {0, 160});
  ASSERT_EQ(s.chunks, 3u);
  for (uint64_t k = 0; k < 3; ++k) {
    EXPECT_EQ(s.first_row(k), 11 * k);
    EXPECT_EQ(s.row_count(k), 11u);
  }
  // 10 rows in chunks of at most 4 rows: 3 chunks of 4, 3, 3 rows.
  const ChunkRowSplit r = split({10, 7}, DType::kI8, {4, 0});
  ASSERT_EQ(r.chunks, 3u);
  EXPECT_EQ(r.row_count(0), 4u);
  EXPECT_EQ(r.row_count(1), 3u);
  EXPECT_EQ(r.first_row(2), 7u);
  EXPECT_EQ(r.row_count(2), 3u);
  // A chunk is at least one row, even when a row is larger than the byte target.
  EXPECT_EQ(split({4, 100}, DType::kF32, {0, 16}).chunks, 4u);
  // Rows decide, not bytes: --chunk-rows wins over the (absent) byte target.
  EXPECT_EQ(split({1000, 1}, DType::kI8, {100, 1}).chunks, 10u);
  // No chunk exceeds the cap: 2^30 + 1 one-byte rows make two chunks.
  EXPECT_EQ(split({kMaxChunkRawBytes + 1}, DType::kU8, {}).chunks, 2u);
  // One row larger than the cap cannot be stored.
  auto too_wide = split_tensor_rows({"t", {2, kMaxChunkRawBytes + 1}, DType::kU8, {}}, {});
  ASSERT_FALSE(too_wide.ok());
  EXPECT_NE(too_wide.status().message().find("one row is"), std::string::npos);
}

TEST(ContainerWriter, ChunksRecordTheirRows) {
  ScratchDir dir;
  const std::string path = dir.file("rows.dcllm");
  std::vector<uint8_t> raw(37 * 20);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i * 7);
  {
    auto w = ContainerWriter::create(path);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->add_tensor({"m", {37, 20}, DType::kI8, {QuantScheme::kPerTensor, 0, {1.0f}}},
                              raw, "rans", ChunkSplit{8, 0})
                    .ok());
    ASSERT_TRUE(w->finish().ok());
  }
  auto c = ModelContainer::open(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& chunks = c->tensors()[0].chunks;
  ASSERT_EQ(chunks.size(), 5u);  // 37 rows, at most 8 each: 8, 8, 7, 7, 7
  uint64_t row = 0;
  for (size_t k = 0; k < chunks.size(); ++k) {
    EXPECT_EQ(chunks[k].first_row, row);
    EXPECT_EQ(chunks[k].row_count, k < 2 ? 8u : 7u);
    EXPECT_EQ(chunks[k].raw_offset, row * 20);
    EXPECT_EQ(chunks[k].raw_size, chunks[k].row_count * 20);
    std::vector<uint8_t> out(chunks[k].raw_size);
    ASSERT_TRUE(c->decode_chunk(0, k, out).ok());
    EXPECT_EQ(0, std::memcmp(out.data(), raw.data() + row * 20, out.size()));
    row += chunks[k].row_count;
  }
}

TEST(ContainerWriter, AddsTensorsFromGivenChunks) {
  ScratchDir dir;
  const std::string first = dir.file("first.dcllm"), second = dir.file("second.dcllm");
  std::vector<uint8_t> raw(12 * 5);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i % 9);
  const TensorSpec spec{"m", {12, 5}, DType::kI8, {QuantScheme::kPerTensor, 0, {1.0f}}};
  {
    auto w = ContainerWriter::create(first);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->add_tensor(spec, raw, "rans", ChunkSplit{4, 0}).ok());
    ASSERT_TRUE(w->finish().ok());
  }
  auto c = ModelContainer::open(first);
  ASSERT_TRUE(c.ok());
  const auto& ch = c->tensors()[0].chunks;
  ASSERT_EQ(ch.size(), 3u);
  auto w = ContainerWriter::create(second, {{"a", 1}});
  ASSERT_TRUE(w.ok());
  // Chunk 0 copied coded, chunk 1 given raw, chunk 2 copied: the file is the same tensor.
  std::vector<ContainerWriter::ChunkInput> in(3);
  in[0] = {4, "rans", c->chunk_bytes(0, 0), true, ch[0].xxh3};
  in[1] = {4, "raw", std::span<const uint8_t>(raw).subspan(20, 20), false, 0};
  in[2] = {4, "rans", c->chunk_bytes(0, 2), true, ch[2].xxh3};
  // Refused: a stored chunk whose bytes do not match the checksum, rows that do not add up.
  auto bad = in;
  bad[2].xxh3 ^= 1;
  Status st = w->add_tensor_chunks(spec, bad);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("chunk 2: stored bytes do not match their checksum"),
            std::string::npos)
      << st.message();
  bad = in;
  bad[1].row_count = 3;
  EXPECT_EQ(w->add_tensor_chunks(spec, bad).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(w->add_tensor_chunks(spec, in).ok());
  ASSERT_TRUE(w->set_metadata({{"b", 2}}).ok());
  ASSERT_TRUE(w->finish().ok());
  auto d = ModelContainer::open(second);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->metadata(), nlohmann::json({{"b", 2}}));
  EXPECT_EQ(d->tensors()[0].chunks[1].codec, "raw");
  std::vector<uint8_t> out(raw.size());
  ASSERT_TRUE(d->read_tensor("m", out).ok());
  EXPECT_EQ(out, raw);
  EXPECT_TRUE(verify_container(*d).ok());
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
