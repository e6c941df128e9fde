// The reader against damaged files: every truncation, every single flipped byte (header,
// metadata, index, chunk data and padding) and index fields tampered behind valid checksums
// must make open() or verify_container() fail with a one-line message, never succeed.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <random>

#include "container/container_test_files.h"
#include "dcllm/container.h"

namespace dcllm {
namespace {

using testing::read_bytes;
using testing::ScratchDir;

uint64_t get_u64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{b[at + i]} << (8 * i);
  return v;
}
uint32_t get_u32(const std::vector<uint8_t>& b, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{b[at + i]} << (8 * i);
  return v;
}
void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// Header field offsets (docs/format.md).
constexpr size_t kVersionAt = 8, kFlagsAt = 12, kMetaSizeAt = 24, kIndexOffsetAt = 32,
                 kIndexSizeAt = 40, kBodyHashAt = 64, kHeaderHashAt = 72;

// Recomputes both checksums, so a test reaches the checks behind them.
void reseal(std::vector<uint8_t>& b) {
  uint64_t index_end = get_u64(b, kIndexOffsetAt) + get_u64(b, kIndexSizeAt);
  put_u64(b, kBodyHashAt, XXH3_64bits(b.data() + 80, index_end - 80));
  put_u64(b, kHeaderHashAt, XXH3_64bits(b.data(), 72));
}

// Where the fields of the index lie, found by walking it as a second reader would.
struct IndexMap {
  size_t tensor_count_at = 0;
  struct Tensor {
    size_t dtype_at, ndim_at, scheme_at, scale_count_at, chunk_count_at;
    std::vector<size_t> chunk_at;  // start of each 44-byte chunk record
  };
  std::vector<Tensor> tensors;
};

IndexMap locate(const std::vector<uint8_t>& b) {
  IndexMap m;
  size_t p = get_u64(b, kIndexOffsetAt);
  uint32_t codecs = get_u32(b, p);
  p += 4;
  for (uint32_t i = 0; i < codecs; ++i) p += 1 + b[p];
  m.tensor_count_at = p;
  uint32_t tensors = get_u32(b, p);
  p += 4;
  for (uint32_t i = 0; i < tensors; ++i) {
    IndexMap::Tensor t;
    p += 2 + (b[p] | (b[p + 1] << 8));
    t.dtype_at = p++;
    t.ndim_at = p;
    p += 1 + 8 * b[p];
    t.scheme_at = p;
    p += 1 + 4;
    t.scale_count_at = p;
    p += 8 + 4 * get_u64(b, p);
    t.chunk_count_at = p;
    uint32_t chunks = get_u32(b, p);
    p += 4;
    for (uint32_t k = 0; k < chunks; ++k, p += 44) t.chunk_at.push_back(p);
    m.tensors.push_back(t);
  }
  EXPECT_EQ(p, get_u64(b, kIndexOffsetAt) + get_u64(b, kIndexSizeAt));
  return m;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed, int spread) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-spread, spread);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(d(rng));
  return v;
}

// A small container with chunk padding, several codecs, an empty tensor and per-tensor scales.
std::vector<uint8_t> small_container(const ScratchDir& dir) {
  std::string path = dir.file("small.dcllm");
  auto w = ContainerWriter::create(path, {{"m", 1}});
  EXPECT_TRUE(w.ok());
  EXPECT_TRUE(w->add_tensor({"a", {100}, DType::kI8, {QuantScheme::kPerTensor, 0, {0.5f}}},
                            random_bytes(100, 1, 20), "raw", 30)
                  .ok());
  EXPECT_TRUE(w->add_tensor({"b", {8}, DType::kF32, {}}, random_bytes(32, 2, 3), "zstd-1").ok());
  EXPECT_TRUE(w->add_tensor({"e", {0}, DType::kU8, {}}, {}, "raw").ok());
  EXPECT_TRUE(w->add_tensor({"r", {200}, DType::kI8, {}}, random_bytes(200, 3, 5), "rans").ok());
  EXPECT_TRUE(w->finish().ok());
  return read_bytes(path);
}

// open() then verify; returns the first failure (or Ok when the bytes pass everything).
Status open_and_verify(const std::vector<uint8_t>& bytes) {
  auto c = ModelContainer::open_from_memory(bytes, "damaged.dcllm");
  if (!c) return c.status();
  return verify_container(*c, {.threads = 1});
}

void expect_one_line_error(const Status& st, const std::string& context) {
  ASSERT_FALSE(st.ok()) << context << ": damage went unnoticed";
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  EXPECT_EQ(st.message().rfind("damaged.dcllm: ", 0), 0u) << st.message();
}

TEST(ContainerCorruption, IntactFilePasses) {
  ScratchDir dir;
  auto bytes = small_container(dir);
  Status st = open_and_verify(bytes);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(ContainerCorruption, BadMagic) {
  ScratchDir dir;
  auto bytes = small_container(dir);
  bytes[1] = 'X';
  Status st = open_and_verify(bytes);
  expect_one_line_error(st, "magic");
  EXPECT_NE(st.message().find("bad magic"), std::string::npos) << st.message();
  EXPECT_FALSE(ModelContainer::open_from_memory({}, "damaged.dcllm").ok());
}

TEST(ContainerCorruption, BadVersion) {
  ScratchDir dir;
  auto bytes = small_container(dir);
  for (uint32_t v : {0u, 1u, 3u, 0xFFFFFFFFu}) {
    auto damaged = bytes;
    put_u32(damaged, kVersionAt, v);
    reseal(damaged);
    Status st = open_and_verify(damaged);
    expect_one_line_error(st, "version");
    EXPECT_EQ(st.code(), StatusCode::kUnsupported);
    EXPECT_NE(st.message().find("version " + std::to_string(v)), std::string::npos);
    // Both versions are named: the file's and the one this build reads.
    EXPECT_NE(st.message().find("reads version " + std::to_string(kContainerVersion)),
              std::string::npos)
        << st.message();
  }
}

TEST(ContainerCorruption, UnknownFlags) {
  ScratchDir dir;
  auto bytes = small_container(dir);
  put_u32(bytes, kFlagsAt, 1);
  reseal(bytes);
  expect_one_line_error(open_and_verify(bytes), "flags");
}

TEST(ContainerCorruption, EveryTruncationAndAnAppendedByte) {
  ScratchDir dir;
  auto bytes = small_container(dir);
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + len);
    expect_one_line_error(open_and_verify(cut), "truncated to " + std::to_string(len));
  }
  bytes.push_back(0);
  expect_one_line_error(open_and_verify(bytes), "appended byte");
}

TEST(ContainerCorruption, EveryFlippedByteOfASmallFile) {
  ScratchDir dir;
  auto bytes = small_container(dir);
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      auto damaged = bytes;
      damaged[i] ^= mask;
      expect_one_line_error(open_and_verify(damaged),
                            "byte " + std::to_string(i) + " ^ " + std::to_string(mask));
    }
  }
}

TEST(ContainerCorruption, SampledDataFlipsOfALargerFileNameTheChunk) {
  ScratchDir dir;
  std::string path = dir.file("large.dcllm");
  auto w = ContainerWriter::create(path, {{"arch", "test"}});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(
      w->add_tensor({"w1", {256, 256}, DType::kI8, {}}, random_bytes(65536, 4, 30), "rans", 10000)
          .ok());
  ASSERT_TRUE(
      w->add_tensor({"w2", {50000}, DType::kI8, {}}, random_bytes(50000, 5, 30), "zstd-19", 7000)
          .ok());
  ASSERT_TRUE(w->finish().ok());
  auto bytes = read_bytes(path);
  auto c = ModelContainer::open_from_memory(bytes, "x");
  ASSERT_TRUE(c.ok());

  std::vector<size_t> offsets;
  for (size_t i = c->data_offset(); i < bytes.size(); i += 97) offsets.push_back(i);
  // Every padding byte between chunks, which only verify's zero check can notice.
  for (const auto& t : c->tensors())
    for (const auto& ch : t.chunks)
      for (uint64_t p = ch.offset + ch.stored_size; p % kContainerAlignment != 0; ++p)
        if (p < bytes.size()) offsets.push_back(p);
  for (size_t i : offsets) {
    auto damaged = bytes;
    damaged[i] ^= 0x10;
    Status st = open_and_verify(damaged);
    expect_one_line_error(st, "data byte " + std::to_string(i));
    bool names_place = st.message().find("chunk ") != std::string::npos;
    EXPECT_TRUE(names_place) << st.message();
  }
}

TEST(ContainerCorruption, TamperedIndexBehindValidChecksums) {
  ScratchDir dir;
  const auto bytes = small_container(dir);
  const IndexMap m = locate(bytes);
  ASSERT_EQ(m.tensors.size(), 4u);
  ASSERT_EQ(m.tensors[0].chunk_at.size(), 4u);
  auto expect_rejected = [&](const char* what, auto&& edit, const char* expected_text) {
    auto damaged = bytes;
    edit(damaged);
    reseal(damaged);
    auto c = ModelContainer::open_from_memory(damaged, "damaged.dcllm");
    ASSERT_FALSE(c.ok()) << what;
    expect_one_line_error(c.status(), what);
    EXPECT_NE(c.status().message().find(expected_text), std::string::npos)
        << what << ": " << c.status().message();
  };
  size_t chunk0 = m.tensors[0].chunk_at[0], chunk1 = m.tensors[0].chunk_at[1];
  expect_rejected(
      "tensor count", [&](auto& b) { put_u32(b, m.tensor_count_at, 0xFFFFFFFF); }, "tensor count");
  expect_rejected(
      "chunk count", [&](auto& b) { put_u32(b, m.tensors[0].chunk_count_at, 1u << 30); },
      "chunk count");
  expect_rejected(
      "scale count", [&](auto& b) { put_u64(b, m.tensors[0].scale_count_at, uint64_t{1} << 62); },
      "scale count");
  expect_rejected(
      "scale count vs scheme",
      [&](auto& b) {
        b[m.tensors[0].scheme_at] = 3; /* group with group size 0 */
      },
      "group size");
  expect_rejected(
      "dtype", [&](auto& b) { b[m.tensors[0].dtype_at] = 99; }, "dtype");
  expect_rejected(
      "ndim", [&](auto& b) { b[m.tensors[0].ndim_at] = 200; }, "");
  expect_rejected(
      "offset past end", [&](auto& b) { put_u64(b, chunk0, uint64_t{1} << 40); },
      "outside the data region");
  expect_rejected(
      "offset wraps", [&](auto& b) { put_u64(b, chunk0, ~uint64_t{63}); },
      "outside the data region");
  expect_rejected(
      "stored size wraps", [&](auto& b) { put_u64(b, chunk0 + 8, ~uint64_t{0}); },
      "outside the data region");
  expect_rejected(
      "misaligned", [&](auto& b) { put_u64(b, chunk0, get_u64(b, chunk0) + 1); }, "aligned");
  expect_rejected(
      "inside the index", [&](auto& b) { put_u64(b, chunk0, 64); }, "outside the data region");
  expect_rejected(
      "overlap", [&](auto& b) { put_u64(b, chunk1, get_u64(b, chunk0)); }, "overlaps");
  expect_rejected(
      "first row", [&](auto& b) { put_u64(b, chunk0 + 16, 5); }, "first row 5");
  expect_rejected(
      "row count", [&](auto& b) { put_u64(b, chunk0 + 24, 31); }, "first row 25 where row 31");
  expect_rejected(
      "row count 0", [&](auto& b) { put_u64(b, chunk0 + 24, 0); }, "0 rows from row 0");
  expect_rejected(
      "row count huge", [&](auto& b) { put_u64(b, chunk0 + 24, ~uint64_t{0}); },
      "(the tensor has 100)");
  expect_rejected(
      "rows short", [&](auto& b) { put_u64(b, m.tensors[0].chunk_at.back() + 24, 24); },
      "chunks cover 99 of 100 rows");
  expect_rejected(
      "codec id", [&](auto& b) { put_u32(b, chunk0 + 40, 7); }, "codec id");
  expect_rejected(
      "duplicate name",
      [&](auto& b) {
        // Tensor names are one byte each: rename "b" to "a".
        size_t b_name = m.tensors[0].chunk_at.back() + 44 + 2;
        ASSERT_EQ(b[b_name], 'b');
        b[b_name] = 'a';
      },
      "twice");
  expect_rejected(
      "metadata not an object",
      [&](auto& b) {
        ASSERT_EQ(get_u64(b, kMetaSizeAt), 7u);  // {"m":1}
        std::string s = "[1,2,3]";
        std::copy(s.begin(), s.end(), b.begin() + 80);
      },
      "not a JSON object");
  expect_rejected(
      "metadata not JSON",
      [&](auto& b) {
        std::string s = "{\"m\":}";
        std::copy(s.begin(), s.end(), b.begin() + 80);
      },
      "not valid JSON");
  uint64_t index_end = get_u64(bytes, kIndexOffsetAt) + get_u64(bytes, kIndexSizeAt);
  if (index_end % kContainerAlignment != 0)
    expect_rejected(
        "stray index byte",
        [&](auto& b) { put_u64(b, kIndexSizeAt, get_u64(b, kIndexSizeAt) + 1); }, "stray");
}

// Random flips behind valid checksums: whatever open() accepts must be safe to verify.
TEST(ContainerCorruption, ResealedFlipsNeverCrash) {
  ScratchDir dir;
  const auto bytes = small_container(dir);
  uint64_t index_end = get_u64(bytes, kIndexOffsetAt) + get_u64(bytes, kIndexSizeAt);
  size_t rejected = 0, total = 0;
  for (size_t i = 80; i < index_end; ++i) {
    for (uint8_t mask : {0x01, 0x04, 0x40, 0xFF}) {
      auto damaged = bytes;
      damaged[i] ^= mask;
      reseal(damaged);
      ++total;
      Status st = open_and_verify(damaged);
      if (!st.ok()) ++rejected;
    }
  }
  // Most fields are structural; a flip passes only where it changes a value (a scale, a name
  // character, a metadata number) without breaking any rule.
  EXPECT_GT(rejected, total / 2);
}

}  // namespace
}  // namespace dcllm
