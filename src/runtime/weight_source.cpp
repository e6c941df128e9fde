// The three tiers behind WeightSource. Resident hands out pointers into decoded values. The
// compressed and stream tiers share RingWeights: one prefetch thread walks the coded linears in
// execution order, gets each chunk's stored bytes (from RAM, or read from the file), checks its
// XXH3 and decodes it into the next DecodeBuffer slot, while the forward pass multiplies with
// the slot before it. The order repeats pass after pass, so the next token's first layers are
// decoded while this token's classifier and sampling run.
#include "runtime/weight_source.h"

#include <algorithm>
#include <map>
#include <set>
#include <span>
#include <string>
#include <thread>

#include "dcllm/codec.h"
#include "dcllm/container.h"
#include "fmt/format.h"
#include "model/chunk_file.h"
#include "runtime/decode_buffer.h"

namespace dcllm {
namespace {

uint64_t decoded_bytes(const std::vector<const Int8Tensor*>& tensors) {
  std::set<const Int8Tensor*> seen;  // a tied classifier is the embedding: count it once
  uint64_t n = 0;
  for (const Int8Tensor* t : tensors)
    if (seen.insert(t).second) n += t->values.size();
  return n;
}

class ResidentWeights final : public WeightSource {
 public:
  explicit ResidentWeights(std::vector<const Int8Tensor*> tensors) : tensors_(std::move(tensors)) {}
  Expected<const int8_t*> acquire(size_t id) override { return tensors_[id]->values.data(); }
  void release(size_t) override {}
  std::string_view tier() const override { return "resident"; }
  WeightMemory memory() const override { return {decoded_bytes(tensors_), 0, 0}; }

 private:
  std::vector<const Int8Tensor*> tensors_;
};

// Where a coded tensor's stored chunk bytes come from: the compressed tier's copy in RAM, or
// the file (stream tier).
class ChunkReader {
 public:
  virtual ~ChunkReader() = default;
  virtual Expected<std::span<const uint8_t>> stored(const Int8StoredChunks& s, size_t k,
                                                    ChunkScratch& scratch,
                                                    std::string_view what) = 0;
};

class InMemoryChunks final : public ChunkReader {
 public:
  Expected<std::span<const uint8_t>> stored(const Int8StoredChunks& s, size_t k, ChunkScratch&,
                                            std::string_view) override {
    return std::span<const uint8_t>(s.bytes).subspan(s.at[k],
                                                     static_cast<size_t>(s.chunks[k].stored_size));
  }
};

class FileChunks final : public ChunkReader {
 public:
  explicit FileChunks(ChunkFile file) : file_(std::move(file)) {}
  Expected<std::span<const uint8_t>> stored(const Int8StoredChunks& s, size_t k,
                                            ChunkScratch& scratch, std::string_view what) override {
    return file_.read(s.chunks[k], scratch, what);
  }

 private:
  ChunkFile file_;
};

class RingWeights final : public WeightSource {
 public:
  RingWeights(std::vector<const Int8Tensor*> tensors, std::vector<size_t> schedule,
              std::unique_ptr<ChunkReader> reader,
              std::map<std::string, std::unique_ptr<Codec>> codecs, size_t slots, size_t slot_bytes,
              std::string_view tier)
      : tensors_(std::move(tensors)),
        schedule_(std::move(schedule)),
        reader_(std::move(reader)),
        codecs_(std::move(codecs)),
        ring_(slots, slot_bytes),
        tier_(tier) {}

  // The thread only starts once the object is complete; the destructor stops it before any
  // member it uses goes away.
  void start() {
    thread_ = std::thread([this] { prefetch(); });
  }
  ~RingWeights() override {
    ring_.stop();
    if (thread_.joinable()) thread_.join();
  }

  Expected<const int8_t*> acquire(size_t id) override {
    const Int8Tensor* t = tensors_[id];
    if (!t->stored) return t->values.data();
    // Items the pass does not use (the classifier of a prompt's earlier batches, or what is
    // left of a pass that stopped at an error) are skipped; each id occurs once per cycle.
    for (size_t skipped = 0; skipped <= schedule_.size(); ++skipped) {
      const uint64_t seq = next_;
      const bool wanted = schedule_[seq % schedule_.size()] == id;
      auto w = ring_.wait_ready(seq);
      if (wanted && w.ok()) return w;  // held until release(id)
      ring_.release(seq);
      ++next_;
      if (wanted) return w.status();
    }
    return Internal(fmt::format("weight source: linear {} is not in the decode schedule", id));
  }

  void release(size_t id) override {
    if (!tensors_[id]->stored) return;
    ring_.release(next_);
    ++next_;
  }

  std::string_view tier() const override { return tier_; }

  WeightMemory memory() const override {
    WeightMemory m;
    std::vector<const Int8Tensor*> in_place;
    for (const Int8Tensor* t : tensors_) {
      if (t->stored)
        m.stored += t->stored->bytes.size();
      else
        in_place.push_back(t);
    }
    m.decoded = decoded_bytes(in_place);
    m.ring = ring_.bytes();
    return m;
  }

 private:
  void prefetch() {
    ChunkScratch scratch;
    for (uint64_t seq = 0;; ++seq) {
      std::span<int8_t> slot = ring_.wait_free(seq);
      if (slot.empty()) return;
      Status st;
      try {
        st = decode(*tensors_[schedule_[seq % schedule_.size()]], slot, scratch);
      } catch (const std::bad_alloc&) {
        st = Internal("weight source: out of memory while reading a chunk");
      }
      ring_.publish(seq, std::move(st));
    }
  }

  Status decode(const Int8Tensor& t, std::span<int8_t> slot, ChunkScratch& scratch) {
    const Int8StoredChunks& s = *t.stored;
    auto out = std::span(reinterpret_cast<uint8_t*>(slot.data()), slot.size());
    for (size_t k = 0; k < s.chunks.size(); ++k) {
      const ChunkInfo& c = s.chunks[k];
      const std::string what = fmt::format("{}: tensor '{}' chunk {}", s.file, s.tensor, k);
      DCLLM_ASSIGN_OR_RETURN(std::span<const uint8_t> stored, reader_->stored(s, k, scratch, what));
      DCLLM_RETURN_IF_ERROR(decode_stored_chunk(c, *codecs_.at(c.codec), stored,
                                                out.subspan(c.raw_offset, c.raw_size), what));
    }
    return Status::Ok();
  }

  std::vector<const Int8Tensor*> tensors_;
  std::vector<size_t> schedule_;  // ids of the coded tensors, in execution order
  std::unique_ptr<ChunkReader> reader_;
  std::map<std::string, std::unique_ptr<Codec>> codecs_;
  DecodeBuffer ring_;
  std::string_view tier_;
  uint64_t next_ = 0;  // the consumer's next item
  std::thread thread_;
};

}  // namespace

Expected<std::unique_ptr<WeightSource>> WeightSource::create(std::vector<const Int8Tensor*> tensors,
                                                             size_t ring_slots) {
  std::vector<size_t> schedule;
  size_t slot_bytes = 0;
  const Int8StoredChunks* first = nullptr;
  std::map<std::string, std::unique_ptr<Codec>> codecs;
  for (size_t id = 0; id < tensors.size(); ++id) {
    const Int8Tensor* t = tensors[id];
    if (!t->stored) {
      if (t->values.size() != static_cast<size_t>(t->rows * t->cols))
        return InvalidArgument("weight source: an INT8 tensor was loaded without data");
      continue;
    }
    const Int8StoredChunks& s = *t->stored;
    if (!first) first = &s;
    if (s.in_memory() != first->in_memory() || s.file != first->file)
      return Internal("weight source: tensors of one model come from different tiers");
    uint64_t raw = 0;
    for (const ChunkInfo& c : s.chunks) {
      if (c.raw_offset != raw) return Corrupt(s.file + ": tensor '" + s.tensor + "': chunk gap");
      raw += c.raw_size;
      if (codecs.count(c.codec)) continue;
      DCLLM_ASSIGN_OR_RETURN(auto codec, make_codec(c.codec));
      codecs.emplace(c.codec, std::move(codec));
    }
    if (raw != static_cast<uint64_t>(t->rows * t->cols))
      return Corrupt(s.file + ": tensor '" + s.tensor + "': chunks do not cover the tensor");
    schedule.push_back(id);
    slot_bytes = std::max(slot_bytes, static_cast<size_t>(raw));
  }
  if (schedule.empty()) return std::unique_ptr<WeightSource>(new ResidentWeights(tensors));
  std::unique_ptr<ChunkReader> reader;
  if (first->in_memory()) {
    reader = std::make_unique<InMemoryChunks>();
  } else {
    DCLLM_ASSIGN_OR_RETURN(ChunkFile file, ChunkFile::open(first->file, /*bypass_cache=*/true));
    reader = std::make_unique<FileChunks>(std::move(file));
  }
  auto ring = std::make_unique<RingWeights>(
      std::move(tensors), std::move(schedule), std::move(reader), std::move(codecs), ring_slots,
      slot_bytes, first->in_memory() ? "compressed" : "stream");
  ring->start();
  return std::unique_ptr<WeightSource>(std::move(ring));
}

}  // namespace dcllm
