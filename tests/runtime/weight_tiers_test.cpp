// The memory tiers (docs/runtime.md): resident, compressed and stream give bit-identical logits
// on the stories260K W8A8 fixture; the compressed tier holds exactly the stored bytes; a stream
// file truncated or overwritten after load fails the next forward cleanly, naming the chunk;
// the DecodeBuffer ring's protocol; and a crafted index claiming a huge f32 tensor is refused
// before anything is allocated.
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../container/container_test_files.h"
#include "model/chunk_file.h"
#include "model/dcllm_model_metadata.h"
#include "model/dcllm_model_reader.h"
#include "rtn_int8_container.h"
#include "runtime/decode_buffer.h"
#include "runtime/embedding_table.h"
#include "runtime/transformer.h"
#include "runtime/weight_source.h"

namespace dcllm {
namespace {

constexpr WeightTier kTiers[] = {WeightTier::kResident, WeightTier::kCompressed,
                                 WeightTier::kStream};

class WeightTiers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    path_ = dir_->file("stories260K.dcllm");
    auto m = testing::stories260k_with_rtn_container(path_);
    ASSERT_TRUE(m.ok()) << m.status().message();
    // Chunks of at most 4 KiB: several per tensor, and small enough that the stream tier's
    // reader reads runs of them through its window.
    Status small = testing::write_rtn_int8_container(*m, path_, 4096);
    ASSERT_TRUE(small.ok()) << small.message();
    // The same model with its own (untied) INT8 classifier, which then goes through the decode
    // ring too: a prompt's earlier batches skip it, and the ring must skip its slot.
    untied_path_ = dir_->file("stories260K-untied.dcllm");
    ASSERT_NE(m->find("token_embd.weight"), nullptr);
    testing::untie_classifier(*m);
    Status st = testing::write_rtn_int8_container(*m, untied_path_);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  static void TearDownTestSuite() { delete dir_; }

  static Model load(const std::string& path, WeightTier tier) {
    auto m = read_dcllm_model(path, {}, tier);
    EXPECT_TRUE(m.ok()) << m.status().message();
    return m.ok() ? std::move(m).value() : Model();
  }

  // A prompt as one batch (all logits), then single-token steps, concatenated.
  static std::vector<float> run_steps(const Model& m, size_t prompt_len, int steps) {
    TransformerOptions o;
    o.max_seq = 400;
    auto t = Transformer::create(m, o);
    EXPECT_TRUE(t.ok()) << t.status().message();
    if (!t.ok()) return {};
    std::vector<int32_t> prompt(prompt_len);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 37 + 1) % 512);
    std::vector<float> all;
    auto l = t->forward(prompt, 0, /*all_logits=*/prompt_len < 64);
    EXPECT_TRUE(l.ok()) << l.status().message();
    if (!l.ok()) return {};
    all.insert(all.end(), l->begin(), l->end());
    for (int s = 0; s < steps; ++s) {
      const int32_t next =
          static_cast<int32_t>(std::max_element(l->begin(), l->end() - 0) - l->begin()) % 512;
      const int32_t one[] = {next};
      l = t->forward(one, static_cast<int64_t>(prompt_len) + s);
      EXPECT_TRUE(l.ok()) << l.status().message();
      if (!l.ok()) return {};
      all.insert(all.end(), l->begin(), l->end());
    }
    return all;
  }

  static testing::ScratchDir* dir_;
  static std::string path_, untied_path_;
};

testing::ScratchDir* WeightTiers::dir_ = nullptr;
std::string WeightTiers::path_, WeightTiers::untied_path_;

TEST_F(WeightTiers, EveryTierGivesBitIdenticalLogits) {
  for (const std::string& path : {path_, untied_path_}) {
    std::vector<float> ref_short, ref_long;
    for (WeightTier tier : kTiers) {
      SCOPED_TRACE(path + " " + std::string(weight_tier_name(tier)));
      Model m = load(path, tier);
      ASSERT_EQ(m.config.tied_classifier, path == path_);
      // A 12-token prompt with all logits, then steps; and a 300-token prompt, which runs as two
      // batches whose first skips the classifier (the ring must skip its slot).
      const auto a = run_steps(m, 12, 6), b = run_steps(m, 300, 3);
      ASSERT_EQ(a.size(), (12u + 6u) * 512u);
      ASSERT_EQ(b.size(), 4u * 512u);
      if (tier == WeightTier::kResident) {
        ref_short = a;
        ref_long = b;
        continue;
      }
      EXPECT_EQ(std::memcmp(a.data(), ref_short.data(), a.size() * sizeof(float)), 0);
      EXPECT_EQ(std::memcmp(b.data(), ref_long.data(), b.size() * sizeof(float)), 0);
    }
  }
}

TEST_F(WeightTiers, SourcesReportTheirTierAndTheBytesTheyHold) {
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  uint64_t int8_raw = 0, int8_stored = 0, embd_raw = 0;
  for (const TensorEntry& e : c->tensors()) {
    if (e.spec.dtype != DType::kI8) continue;
    if (e.spec.name == "token_embd.weight") embd_raw = e.raw_bytes;
    int8_raw += e.raw_bytes;
    int8_stored += e.stored_bytes;
  }
  ASSERT_GT(int8_raw, int8_stored);  // rans really compressed the fixture
  for (WeightTier tier : kTiers) {
    SCOPED_TRACE(std::string(weight_tier_name(tier)));
    Model m = load(path_, tier);
    ASSERT_TRUE(m.config.tied_classifier);  // stories260K: the classifier is token_embd
    const ModelTensor* q = m.find("blk.0.attn_q.weight");
    ASSERT_NE(q, nullptr);
    ASSERT_NE(q->int8, nullptr);
    const ModelTensor* e = m.find("token_embd.weight");
    ASSERT_NE(e, nullptr);
    // The embedding follows the tier like every linear: decoded only where the tier decodes.
    EXPECT_EQ(e->int8->values.size(), tier == WeightTier::kResident ? embd_raw : 0u);
    auto t = Transformer::create(m);
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->weights().tier(), weight_tier_name(tier));
    const WeightMemory mem = t->weights().memory();
    switch (tier) {
      case WeightTier::kResident:
        EXPECT_EQ(q->int8->values.size(), 64u * 64u);
        EXPECT_EQ(mem.decoded, int8_raw);
        EXPECT_EQ(mem.stored, 0u);
        EXPECT_EQ(mem.ring, 0u);
        break;
      case WeightTier::kCompressed:
        EXPECT_TRUE(q->int8->values.empty());
        EXPECT_EQ(mem.stored, int8_stored);  // exactly the file's bytes of these tensors
        EXPECT_EQ(mem.decoded, 0u);
        EXPECT_EQ(mem.ring, 0u);     // no reader: the compute threads decode (fused)
        EXPECT_GT(mem.scratch, 0u);  // into buffers of their own
        break;
      case WeightTier::kStream: {
        EXPECT_TRUE(q->int8->values.empty());
        EXPECT_EQ(mem.stored, 0u);
        EXPECT_EQ(mem.decoded, 0u);
        EXPECT_GT(mem.scratch, 0u);
        // The ring and the reader's windows, which this fixture streams enough to use (so
        // the truncation and overwrite tests below read through it).
        auto c = ModelContainer::open(path_);
        ASSERT_TRUE(c.ok());
        uint64_t slot = 0, largest = 0, streamed = 0;
        for (const TensorEntry& e : c->tensors()) {
          if (e.spec.dtype != DType::kI8) continue;
          for (const ChunkInfo& ch : e.chunks) {
            slot = std::max<uint64_t>(slot, ChunkFile::direct_buffer_bytes(ch));
            largest = std::max(largest, ch.stored_size);
            streamed += ch.stored_size;
          }
        }
        const size_t window = stream_read_window_bytes(static_cast<size_t>(slot), streamed);
        EXPECT_GT(window, 0u);
        EXPECT_GE(mem.ring, 3 * window);  // three windows, which the items point into
        EXPECT_EQ(mem.ring, stream_ring_bytes(largest, 16, streamed));  // as the planner counts
        break;
      }
    }
  }
}

// Copies the fixture, loads the copy in the stream tier, runs one token, then lets `damage`
// change the file; the next forward must fail with one line naming `tensor`'s chunk, and so
// must the one after it (no hang, no crash).
void expect_stream_failure(const std::string& fixture, const std::string& copy,
                           const std::string& tensor,
                           const std::function<void(const ChunkInfo&)>& damage,
                           const std::string& fragment, int32_t token_after = 1) {
  std::filesystem::copy_file(fixture, copy, std::filesystem::copy_options::overwrite_existing);
  auto c = ModelContainer::open(copy);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const ChunkInfo chunk = c->tensors()[static_cast<size_t>(c->find(tensor))].chunks.back();
  const size_t last = c->tensors()[static_cast<size_t>(c->find(tensor))].chunks.size() - 1;
  auto m = read_dcllm_model(copy, {}, WeightTier::kStream);
  ASSERT_TRUE(m.ok()) << m.status().message();
  TransformerOptions o;
  o.max_seq = 16;
  auto t = Transformer::create(*m, o);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const int32_t tok[] = {1};
  ASSERT_TRUE(t->forward(tok, 0).ok());
  damage(chunk);
  const int32_t after[] = {token_after};
  for (int64_t pos : {1, 2}) {
    auto l = t->forward(after, pos);
    ASSERT_FALSE(l.ok());
    const std::string msg = l.status().message();
    EXPECT_NE(msg.find(copy + ": tensor '" + tensor + "' chunk " + std::to_string(last)),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

// Two bytes in the middle of `chunk` changed in place (the file keeps its size).
void overwrite_middle(const std::string& file, const ChunkInfo& chunk) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(chunk.offset + chunk.stored_size / 2));
  f.put('\x5a').put('\xa5');
}

TEST_F(WeightTiers, StreamedFileTruncatedAfterLoadNamesTheChunk) {
  // The file's last chunk: cutting the file inside it leaves every other chunk readable.
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok());
  std::string last_tensor;
  uint64_t last_offset = 0;
  for (const TensorEntry& e : c->tensors())
    for (const ChunkInfo& ch : e.chunks)
      if (ch.offset >= last_offset && e.spec.dtype == DType::kI8 &&
          e.spec.name != "token_embd.weight") {
        last_offset = ch.offset;
        last_tensor = e.spec.name;
      }
  const std::string copy = dir_->file("truncated.dcllm");
  expect_stream_failure(
      path_, copy, last_tensor,
      [&](const ChunkInfo& ch) {
        std::filesystem::resize_file(copy, ch.offset + ch.stored_size / 2);
      },
      "short read");
}

TEST_F(WeightTiers, StreamedChunkOverwrittenAfterLoadNamesTheChunk) {
  const std::string copy = dir_->file("overwritten.dcllm");
  expect_stream_failure(
      path_, copy, "blk.2.attn_v.weight", [&](const ChunkInfo& ch) { overwrite_middle(copy, ch); },
      "checksum mismatch");
}

TEST_F(WeightTiers, StreamedEmbeddingChunkOverwrittenAfterLoadNamesTheChunk) {
  // Token 511's row is in token_embd's last chunk, which the first forward (token 1) did not
  // look up: the lookup (which runs before the tied classifier reads the chunk) reads the
  // damaged chunk and must refuse it.
  const std::string copy = dir_->file("overwritten-embd.dcllm");
  expect_stream_failure(
      path_, copy, "token_embd.weight", [&](const ChunkInfo& ch) { overwrite_middle(copy, ch); },
      "checksum mismatch", /*token_after=*/511);
}

TEST_F(WeightTiers, EmbeddingRowsAreBitIdenticalInEveryTier) {
  Model ref = load(path_, WeightTier::kResident);
  const ModelTensor* re = ref.find("token_embd.weight");
  ASSERT_NE(re, nullptr);
  ASSERT_NE(re->int8, nullptr);
  const int64_t rows = re->int8->rows, cols = re->int8->cols;
  ASSERT_GT(rows, 1);
  std::vector<float> want(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) re->int8->view().dequantize_row(r, &want[r * cols]);
  for (WeightTier tier : kTiers) {
    SCOPED_TRACE(std::string(weight_tier_name(tier)));
    Model m = load(path_, tier);
    const ModelTensor* e = m.find("token_embd.weight");
    ASSERT_NE(e, nullptr);
    ASSERT_NE(e->int8, nullptr);
    if (tier != WeightTier::kResident) {
      ASSERT_NE(e->int8->stored, nullptr);
    }
    auto table = EmbeddingTable::create(*e->int8);
    ASSERT_TRUE(table.ok()) << table.status().message();
    std::vector<float> row(static_cast<size_t>(cols));
    // Backwards, then forwards: every chunk is entered from both sides.
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t r = pass == 0 ? rows - 1 - i : i;
        ASSERT_TRUE((*table)->row(r, row.data()).ok()) << r;
        ASSERT_EQ(std::memcmp(row.data(), &want[r * cols], row.size() * sizeof(float)), 0) << r;
      }
    EXPECT_FALSE((*table)->row(rows, row.data()).ok());
    EXPECT_FALSE((*table)->row(-1, row.data()).ok());
  }
}

TEST_F(WeightTiers, ChunkFileReadsTheStoredBytesDirectOrBuffered) {
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok());
  const TensorEntry& e = c->tensors()[static_cast<size_t>(c->find("blk.1.ffn_down.weight"))];
  // The scratch dir's filesystem (ext4 here) takes O_DIRECT; /dev/shm (tmpfs) refuses it and
  // the reader falls back to pread + fadvise.
  std::vector<std::string> places = {path_};
  if (std::filesystem::is_directory("/dev/shm")) {
    const std::string shm = "/dev/shm/dcllm-tiers-" + std::to_string(::getpid()) + ".dcllm";
    std::filesystem::copy_file(path_, shm, std::filesystem::copy_options::overwrite_existing);
    places.push_back(shm);
  }
  for (const std::string& p : places) {
    SCOPED_TRACE(p);
    auto f = ChunkFile::open(p, /*bypass_cache=*/true);
    ASSERT_TRUE(f.ok()) << f.status().message();
    ChunkScratch scratch;
    for (size_t k = 0; k < e.chunks.size(); ++k) {
      auto got = f->read(e.chunks[k], scratch, "x");
      ASSERT_TRUE(got.ok()) << got.status().message();
      auto want = c->chunk_bytes(static_cast<size_t>(c->find(e.spec.name)), k);
      ASSERT_EQ(got->size(), want.size());
      EXPECT_EQ(std::memcmp(got->data(), want.data(), want.size()), 0);
    }
    if (p != path_) std::filesystem::remove(p);
  }
}

TEST(DecodeBuffer, HandsOverItemsInOrderAndPassesErrorsOn) {
  DecodeBuffer ring(2, 8);
  EXPECT_EQ(ring.bytes(), 2u * 64u);  // slots are rounded up to 64 bytes
  std::thread producer([&] {
    for (uint64_t seq = 0; seq < 6; ++seq) {
      auto slot = ring.wait_free(seq);
      ASSERT_FALSE(slot.empty());
      slot[0] = static_cast<uint8_t>(seq);
      ring.publish(seq, seq == 4 ? Corrupt("item 4 is bad") : Status::Ok(), slot.first(1));
    }
    EXPECT_TRUE(ring.wait_free(6 + 2).empty());  // blocks until stop()
  });
  for (uint64_t seq = 0; seq < 6; ++seq) {
    auto p = ring.wait_ready(seq);
    if (seq == 4) {
      ASSERT_FALSE(p.ok());
      EXPECT_EQ(p.status().message(), "item 4 is bad");
    } else {
      ASSERT_TRUE(p.ok());
      ASSERT_EQ(p->size(), 1u);
      EXPECT_EQ((*p)[0], static_cast<uint8_t>(seq));
    }
    ring.release(seq);
  }
  ring.stop();
  producer.join();
  EXPECT_FALSE(ring.wait_ready(7).ok());  // stopped: no wait
}

TEST(DecodeBuffer, ConsumersMayReleaseOutOfOrder) {
  // Four slots, 4 KiB-aligned; items 0..3 are filled at once; releasing 2 before 0 frees 2's
  // slot only: the producer can fill 6 but waits for 4 until 0 is released.
  DecodeBuffer ring(4, 100, 4096);
  EXPECT_EQ(ring.slot_bytes(), 4096u);
  for (uint64_t seq = 0; seq < 4; ++seq) {
    auto slot = ring.wait_free(seq);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(slot.data()) % 4096, 0u);
    ring.publish(seq, Status::Ok(), slot.first(1));
  }
  for (uint64_t seq : {3u, 1u, 2u}) {
    ASSERT_TRUE(ring.wait_ready(seq).ok());
  }
  ring.release(1);
  ring.release(3);
  std::atomic<int> filled{-1};
  std::thread producer([&] {
    ASSERT_FALSE(ring.wait_free(4).empty());  // slot 0: waits for item 0's release
    filled = 4;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(filled.load(), -1);
  ring.release(0);
  producer.join();
  EXPECT_EQ(filled.load(), 4);
  ring.stop();
}

// A valid file with an f32 tensor [4096, 64] in 4096 chunks of one row (256 bytes) coded with
// `codec`, then its index rewritten to claim [4096, 2^28], i.e. chunks of 2^30 bytes each
// (4 TiB), behind valid checksums; every tier must refuse it with an error naming the tensor and
// `fragment`.
void expect_huge_claim_refused(const std::string& codec, const std::string& fragment) {
  SCOPED_TRACE(codec);
  testing::ScratchDir dir;
  const std::string path = dir.file("huge.dcllm");
  ModelConfig cfg;
  cfg.architecture = "llama";
  cfg.dim = 64;
  cfg.hidden_dim = 64;
  cfg.n_layers = 1;
  cfg.n_heads = 1;
  cfg.n_kv_heads = 1;
  cfg.head_dim = 64;
  cfg.vocab_size = 4096;
  cfg.seq_len = 16;
  cfg.rope_dim = 64;
  nlohmann::json meta = {
      {"format", "dcllm-model"}, {"version", 1}, {"config", model_config_to_json(cfg)}};
  {
    auto w = ContainerWriter::create(path, meta);
    ASSERT_TRUE(w.ok()) << w.status().message();
    TensorSpec spec{"blk.0.attn_norm.weight", {4096, 64}, DType::kF32, {}};
    std::vector<uint8_t> raw(4096 * 64 * 4, 0);
    ASSERT_TRUE(w->add_tensor(spec, raw, codec, 256).ok());
    ASSERT_TRUE(w->finish().ok());
  }
  auto bytes = testing::read_bytes(path);
  auto u64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, bytes.data() + at, 8);
    return v;
  };
  auto put64 = [&](size_t at, uint64_t v) { std::memcpy(bytes.data() + at, &v, 8); };
  // Index (docs/format.md): codec table, tensor count, then the one tensor record.
  size_t p = u64(32);
  uint32_t codecs;
  std::memcpy(&codecs, bytes.data() + p, 4);
  p += 4;
  for (uint32_t i = 0; i < codecs; ++i) p += 1 + bytes[p];
  p += 4;                                          // tensor count
  p += 2 + std::strlen("blk.0.attn_norm.weight");  // name
  p += 2;                                          // dtype, ndim
  put64(p + 8, uint64_t{1} << 28);                 // shape[1]
  p += 16 + 1 + 4;                                 // shape, scheme, group size
  p += 8;                                          // scale count (0)
  uint32_t chunks;
  std::memcpy(&chunks, bytes.data() + p, 4);
  ASSERT_EQ(chunks, 4096u);
  p += 4;
  // Each chunk is one row, so each now claims 2^28 floats (2^30 bytes) through its row count.
  ASSERT_EQ(p + 44 * chunks, u64(32) + u64(40));  // walked the whole index
  put64(64, XXH3_64bits(bytes.data() + 80, u64(32) + u64(40) - 80));
  put64(72, XXH3_64bits(bytes.data(), 72));
  testing::write_bytes(path, bytes);

  auto c = ModelContainer::open(path);
  ASSERT_TRUE(c.ok()) << c.status().message();  // the container rules alone let it through
  ASSERT_EQ(c->tensors()[0].raw_bytes, uint64_t{1} << 42);
  for (WeightTier tier : kTiers) {
    auto m = read_dcllm_model(path, {}, tier);  // no bad_alloc: a clean error
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("tensor 'blk.0.attn_norm.weight'"), std::string::npos)
        << m.status().message();
    EXPECT_NE(m.status().message().find(fragment), std::string::npos) << m.status().message();
  }
  auto from_memory = read_dcllm_model(*c);
  ASSERT_FALSE(from_memory.ok());
  EXPECT_NE(from_memory.status().message().find(fragment), std::string::npos);
}

TEST(DcllmReaderClaims, HugeF32TensorIsRefusedBeforeAllocating) {
  // A raw chunk expands by exactly 1: 256 stored bytes cannot hold 2^30.
  expect_huge_claim_refused("raw", "raw chunk stores 256 bytes for 1073741824");
  // A coded chunk has no useful expansion bound: the claim must fit in physical memory.
  expect_huge_claim_refused("zstd-1", "more than this machine's");
}

}  // namespace
}  // namespace dcllm
