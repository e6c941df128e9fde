// Round trips through ContainerWriter and ModelContainer: every dtype, several codecs, chunk
// sizes that do and don't divide the tensor, empty and scalar tensors, per-chunk codecs.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "container/container_test_files.h"
#include "dcllm/container.h"

namespace dcllm {
namespace {

using testing::read_bytes;
using testing::ScratchDir;

struct Case {
  TensorSpec spec;
  std::vector<std::string> codecs;  // one name, or one per chunk
  uint64_t chunk_bytes;
  std::vector<uint8_t> raw;
};

// Skewed bytes (like INT8 weights: most near zero), so entropy coders have something to do.
std::vector<uint8_t> weight_like_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 12.0f);
  std::vector<uint8_t> v(n);
  for (auto& b : v)
    b = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(normal(rng), -127.0f, 127.0f)));
  return v;
}

TensorSpec spec(std::string name, std::vector<uint64_t> shape, DType dtype,
                QuantParams quant = {}) {
  return {std::move(name), std::move(shape), dtype, std::move(quant)};
}

std::vector<Case> make_cases() {
  std::vector<Case> cases;
  QuantParams per_channel{QuantScheme::kPerChannel, 0, {}};
  for (int i = 0; i < 64; ++i) per_channel.scales.push_back(0.01f * static_cast<float>(i + 1));
  cases.push_back({spec("blk.0.attn_q.weight", {64, 100}, DType::kI8, per_channel),
                   {"rans"},
                   1000,
                   weight_like_bytes(6400, 1)});
  cases.push_back({spec("norm.weight", {33}, DType::kF32), {"raw"}, 0, weight_like_bytes(132, 2)});
  cases.push_back({spec("f16", {4, 5}, DType::kF16, {QuantScheme::kPerTensor, 0, {0.5f}}),
                   {"zstd-19"},
                   0,
                   weight_like_bytes(40, 3)});
  // group:3 over rows of 4: two groups per row, 2*3 rows.
  cases.push_back({spec("bf16", {2, 3, 4}, DType::kBF16,
                        {QuantScheme::kGroup, 3, std::vector<float>(12, 0.25f)}),
                   {"lz4"},
                   16,
                   weight_like_bytes(48, 4)});
  cases.push_back({spec("empty", {0, 5}, DType::kU8), {"raw"}, 0, {}});
  cases.push_back({spec("scalar", {}, DType::kI32), {"deflate-6"}, 0, weight_like_bytes(4, 5)});
  cases.push_back({spec("i16", {7}, DType::kI16), {"snappy"}, 4, weight_like_bytes(14, 6)});
  cases.push_back({spec("mixed", {3000}, DType::kI8),
                   {"raw", "rans", "zstd-1"},
                   1024,
                   weight_like_bytes(3000, 7)});
  cases.push_back(
      {spec("hts", {5000}, DType::kI8), {"htscodecs-rans32x16"}, 4096, weight_like_bytes(5000, 8)});
  cases.push_back(
      {spec("u8.one_chunk_exact", {256}, DType::kU8), {"rans"}, 256, weight_like_bytes(256, 9)});
  return cases;
}

Status add_case(ContainerWriter& w, const Case& c) {
  if (c.codecs.size() == 1) return w.add_tensor(c.spec, c.raw, c.codecs[0], c.chunk_bytes);
  return w.add_tensor(c.spec, c.raw, c.codecs, c.chunk_bytes);
}

TEST(ContainerRoundTrip, EveryDTypeCodecAndChunking) {
  ScratchDir dir;
  std::string path = dir.file("model.dcllm");
  nlohmann::json meta = {{"architecture", "llama"},
                         {"hyper_parameters", {{"dim", 64}, {"n_layers", 2}}},
                         {"quantization", {{"scheme", "int8"}, {"alpha", 0.5}}},
                         {"provenance", {{"source", "unit test \xC3\xA9"}}}};
  auto cases = make_cases();
  uint64_t raw_total = 0;
  {
    auto w = ContainerWriter::create(path, meta);
    ASSERT_TRUE(w.ok()) << w.status().message();
    w->set_threads(2);
    for (const auto& c : cases) {
      ASSERT_TRUE(add_case(*w, c).ok()) << add_case(*w, c).message();
      raw_total += c.raw.size();
    }
    EXPECT_EQ(w->tensor_count(), cases.size());
    EXPECT_EQ(w->raw_bytes(), raw_total);
    Status st = w->finish();
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(w->file_bytes(), read_bytes(path).size());

    auto c = ModelContainer::open(path);
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ(c->stored_bytes(), w->stored_bytes());
    EXPECT_EQ(c->raw_bytes(), raw_total);
  }

  auto c = ModelContainer::open(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->version(), kContainerVersion);
  EXPECT_EQ(c->metadata(), meta);
  ASSERT_EQ(c->tensors().size(), cases.size());
  EXPECT_EQ(c->find("no such tensor"), -1);
  size_t chunks = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& want = cases[i];
    const TensorEntry& t = c->tensors()[i];
    SCOPED_TRACE(want.spec.name);
    EXPECT_EQ(c->find(want.spec.name), static_cast<ptrdiff_t>(i));
    EXPECT_EQ(t.spec.name, want.spec.name);
    EXPECT_EQ(t.spec.shape, want.spec.shape);
    EXPECT_EQ(t.spec.dtype, want.spec.dtype);
    EXPECT_EQ(t.spec.quant.scheme, want.spec.quant.scheme);
    EXPECT_EQ(t.spec.quant.group_size, want.spec.quant.group_size);
    EXPECT_EQ(t.spec.quant.scales, want.spec.quant.scales);
    EXPECT_EQ(t.raw_bytes, want.raw.size());
    EXPECT_EQ(t.chunks.size(), split_tensor_rows(want.spec, {0, want.chunk_bytes})->chunks);
    chunks += t.chunks.size();
    uint64_t raw_offset = 0, stored = 0;
    for (size_t k = 0; k < t.chunks.size(); ++k) {
      const ChunkInfo& ch = t.chunks[k];
      EXPECT_EQ(ch.offset % kContainerAlignment, 0u);
      EXPECT_EQ(ch.raw_offset, raw_offset);
      EXPECT_EQ(ch.raw_offset, ch.first_row * tensor_row_bytes(t.spec));
      EXPECT_EQ(ch.raw_size, ch.row_count * tensor_row_bytes(t.spec));
      EXPECT_EQ(ch.codec, want.codecs.size() == 1 ? want.codecs[0] : want.codecs[k]);
      raw_offset += ch.raw_size;
      stored += ch.stored_size;
      std::vector<uint8_t> out(ch.raw_size);
      Status st = c->decode_chunk(i, k, out);
      ASSERT_TRUE(st.ok()) << st.message();
      EXPECT_EQ(0, std::memcmp(out.data(), want.raw.data() + ch.raw_offset, ch.raw_size));
      if (ch.codec == "raw") {
        auto stored_bytes = c->chunk_bytes(i, k);
        ASSERT_EQ(stored_bytes.size(), ch.raw_size);
        EXPECT_EQ(0, std::memcmp(stored_bytes.data(), out.data(), out.size()));
      }
    }
    EXPECT_EQ(raw_offset, want.raw.size());
    EXPECT_EQ(stored, t.stored_bytes);
    std::vector<uint8_t> whole(want.raw.size());
    Status st = c->read_tensor(want.spec.name, whole, 2);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(whole, want.raw);
  }
  EXPECT_EQ(c->chunk_count(), chunks);

  VerifyReport report;
  Status st = verify_container(path, {}, &report);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(report.tensors, cases.size());
  EXPECT_EQ(report.chunks, chunks);
  EXPECT_EQ(report.raw_bytes, raw_total);
}

TEST(ContainerRoundTrip, RansShrinksWeightLikeBytes) {
  ScratchDir dir;
  std::string path = dir.file("w.dcllm");
  auto raw = weight_like_bytes(1 << 18, 11);
  auto w = ContainerWriter::create(path);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->add_tensor(spec("w", {512, 512}, DType::kI8), raw, "rans", 1 << 16).ok());
  EXPECT_LT(w->stored_bytes(), w->raw_bytes());
  ASSERT_TRUE(w->finish().ok());
  auto c = ModelContainer::open(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::vector<uint8_t> out(raw.size());
  ASSERT_TRUE(c->read_tensor("w", out, 4).ok());
  EXPECT_EQ(out, raw);
}

TEST(ContainerRoundTrip, EmptyContainerAndMemoryOpen) {
  ScratchDir dir;
  std::string path = dir.file("empty.dcllm");
  auto w = ContainerWriter::create(path, nullptr);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->finish().ok());
  auto bytes = read_bytes(path);
  auto c = ModelContainer::open_from_memory(bytes, "mem");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->metadata().is_object());
  EXPECT_TRUE(c->tensors().empty());
  EXPECT_EQ(c->file_bytes(), bytes.size());
  EXPECT_TRUE(verify_container(*c).ok());
  auto is = is_container_file(path);
  ASSERT_TRUE(is.ok());
  EXPECT_TRUE(*is);
}

TEST(ContainerRoundTrip, DecodeRejectsWrongOutputSizeAndIndices) {
  ScratchDir dir;
  std::string path = dir.file("m.dcllm");
  auto w = ContainerWriter::create(path);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->add_tensor(spec("t", {10}, DType::kI8), weight_like_bytes(10, 1), "raw").ok());
  ASSERT_TRUE(w->finish().ok());
  auto c = ModelContainer::open(path);
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> out(9);
  EXPECT_EQ(c->decode_chunk(0, 0, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->decode_chunk(0, 1, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->decode_chunk(1, 0, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->read_tensor("t", out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->read_tensor("u", out).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(c->chunk_bytes(0, 1).empty());
}

}  // namespace
}  // namespace dcllm
