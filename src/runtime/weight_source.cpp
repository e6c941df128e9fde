// The weight source behind every tier and plan. A tensor decoded whole is multiplied in place
// (linear_int8_forward). A tensor kept in row chunks runs fused_int8_forward: each compute
// thread takes chunks and gets each one's rows from its home — held decoded (used in place),
// held coded (decoded into the thread's own buffer), or streamed. Streamed chunks are read by
// one reader thread, in execution order and over and over (O_DIRECT where the filesystem
// allows), while the compute threads check (XXH3), decode and multiply the chunks before them;
// so the next layer's reads overlap this layer's compute.
#include "runtime/weight_source.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <limits>
#include <mutex>
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
#include "runtime/fused_linear.h"

namespace dcllm {
namespace {

constexpr size_t kNoItem = std::numeric_limits<size_t>::max();
constexpr size_t kReadAlign = 4096;  // O_DIRECT buffers
// Streamed chunks that follow each other in the file are read in one request of up to this
// many bytes: direct reads of single 64 KiB chunks ran at 476 MB/s here, 1 MiB ones at 1.2 GB/s.
constexpr uint64_t kReadWindowBytes = uint64_t{1} << 20;
// Read windows in turn: one being consumed, one waiting, one being read.
constexpr size_t kReadWindows = 3;
// Ring items in flight when chunks are read through windows (each item then is only a span into
// a window): enough for three windows of 64 KiB chunks.
constexpr size_t kWindowRingSlots = 64;
constexpr size_t kNoWindow = std::numeric_limits<size_t>::max();

// One linear whose tensor is kept in chunks.
struct ChunkedLinear {
  const Int8StoredChunks* s = nullptr;
  std::vector<FusedChunk> chunks;
  std::vector<const Codec*> codecs;  // per chunk; null for raw chunks (used as they are)
  std::vector<size_t> item;          // streamed chunk k: its place among the linear's items
  size_t first_item = kNoItem;       // schedule index of its first streamed chunk
  size_t streamed = 0;
};

// A streamed chunk in the reader's schedule.
struct StreamItem {
  size_t linear = 0;
  size_t chunk = 0;
};

std::string chunk_name(const Int8StoredChunks& s, size_t k) {
  return fmt::format("{}: tensor '{}' chunk {}", s.file, s.tensor, k);
}

class ChunkedWeights final : public WeightSource {
 public:
  ChunkedWeights(std::vector<const Int8Tensor*> tensors, std::vector<ChunkedLinear> linears,
                 std::vector<StreamItem> schedule,
                 std::map<std::string, std::unique_ptr<Codec>> codecs, unsigned threads)
      : tensors_(std::move(tensors)),
        linears_(std::move(linears)),
        schedule_(std::move(schedule)),
        codecs_(std::move(codecs)),
        threads_(threads) {}

  // Starts the reader thread (streamed chunks only) once the object is complete; the destructor
  // stops it before any member it uses goes away.
  Status start_stream(size_t ring_slots) {
    if (schedule_.empty()) return Status::Ok();
    size_t slot = 0;
    uint64_t streamed = 0;
    for (const StreamItem& it : schedule_) {
      const ChunkInfo& c = linears_[it.linear].s->chunks[it.chunk];
      slot = std::max(slot, ChunkFile::direct_buffer_bytes(c));
      streamed += c.stored_size;
    }
    const std::string& path = linears_[schedule_[0].linear].s->file;
    DCLLM_ASSIGN_OR_RETURN(ChunkFile file, ChunkFile::open(path, /*bypass_cache=*/true));
    file_ = std::make_unique<ChunkFile>(std::move(file));
    window_bytes_ = stream_read_window_bytes(slot, streamed);
    // With windows, items point into them and the ring's slots carry no bytes.
    if (window_bytes_ > 0)
      ring_ = std::make_unique<DecodeBuffer>(std::max(ring_slots, kWindowRingSlots), 1);
    else
      ring_ = std::make_unique<DecodeBuffer>(ring_slots, slot, kReadAlign);
    item_window_.assign(ring_->slots(), kNoWindow);
    thread_ = std::thread([this] { read_ahead(); });
    return Status::Ok();
  }

  ~ChunkedWeights() override {
    {
      std::lock_guard<std::mutex> lock(window_mu_);
      stopping_ = true;
    }
    window_cv_.notify_all();
    if (ring_) ring_->stop();
    if (thread_.joinable()) thread_.join();
  }

  Status forward(size_t id, const Int8LinearParams& p, const float* x, size_t rows, float* y,
                 unsigned threads) override {
    const ChunkedLinear& L = linears_[id];
    if (!L.s) {
      Int8LinearParams q = p;
      q.weights.values = tensors_[id]->values.data();
      linear_int8_forward(q, x, rows, y, threads);
      return Status::Ok();
    }
    uint64_t base = 0;
    if (L.streamed > 0) {
      DCLLM_ASSIGN_OR_RETURN(base, skip_to(id));
    }
    const Int8StoredChunks& s = *L.s;
    auto rows_of = [&](size_t k, std::span<int8_t> scratch) -> Expected<const int8_t*> {
      std::span<const uint8_t> stored;
      switch (s.homes[k]) {
        case ChunkHome::kDecoded:
          return reinterpret_cast<const int8_t*>(s.held(k).data());
        case ChunkHome::kStored:
          stored = s.held(k);  // checked against its XXH3 when it was read at load
          break;
        case ChunkHome::kStreamed: {
          // Checked here, not on the reader thread, which should spend its time in reads.
          DCLLM_ASSIGN_OR_RETURN(stored, ring_->wait_ready(base + L.item[k]));
          const uint64_t hash = XXH3_64bits(stored.data(), stored.size());
          if (hash != s.chunks[k].xxh3)
            return Corrupt(fmt::format("{}: checksum mismatch (index {:#018x}, data {:#018x}): the "
                                       "file changed while streaming",
                                       chunk_name(s, k), s.chunks[k].xxh3, hash));
          break;
        }
      }
      if (!L.codecs[k]) return reinterpret_cast<const int8_t*>(stored.data());
      Status st = L.codecs[k]->decompress(
          stored, std::span(reinterpret_cast<uint8_t*>(scratch.data()), scratch.size()));
      if (!st.ok())
        return Status(st.code(), fmt::format("{}: {} decode failed: {}", chunk_name(s, k),
                                             s.chunks[k].codec, st.message()));
      return static_cast<const int8_t*>(scratch.data());
    };
    auto done = [&](size_t k) {
      if (s.homes[k] == ChunkHome::kStreamed) release_item(base + L.item[k]);
    };
    Status st = fused_int8_forward(p, L.chunks, rows_of, done, x, rows, y, threads);
    if (L.streamed > 0) next_ = base + L.streamed;
    return st;
  }

  std::string_view tier() const override {
    if (!schedule_.empty()) return "stream";
    for (const ChunkedLinear& L : linears_)
      if (L.s) return "compressed";
    return "resident";
  }

  WeightMemory memory() const override {
    WeightMemory m;
    std::set<const void*> seen;  // a tied classifier is the embedding: count it once
    uint64_t largest = 0;
    for (size_t id = 0; id < linears_.size(); ++id) {
      const ChunkedLinear& L = linears_[id];
      if (!L.s) {
        if (seen.insert(tensors_[id]).second) m.decoded += tensors_[id]->values.size();
        continue;
      }
      if (!seen.insert(L.s).second) continue;
      for (size_t k = 0; k < L.s->chunks.size(); ++k) {
        const ChunkInfo& c = L.s->chunks[k];
        if (L.s->homes[k] == ChunkHome::kDecoded) m.decoded += c.raw_size;
        if (L.s->homes[k] == ChunkHome::kStored) m.stored += c.stored_size;
        if (L.s->homes[k] != ChunkHome::kDecoded && L.codecs[k])
          largest = std::max(largest, c.raw_size);
      }
    }
    m.ring = ring_ ? ring_->bytes() + kReadWindows * window_bytes_ : 0;
    m.scratch = largest * threads_;
    return m;
  }

 private:
  // Items a pass does not use (the classifier of a prompt's earlier batches, or what is left of
  // a pass that stopped at an error) are skipped until the ring reaches linear `id`'s first
  // streamed chunk; each linear's chunks occur once per cycle. Returns its first item.
  Expected<uint64_t> skip_to(size_t id) {
    const ChunkedLinear& L = linears_[id];
    for (size_t skipped = 0; skipped <= schedule_.size(); ++skipped) {
      if (next_ % schedule_.size() == L.first_item) return next_;
      (void)ring_->wait_ready(next_);
      release_item(next_);
      ++next_;
    }
    return Internal(fmt::format("weight source: linear {} is not in the read schedule", id));
  }

  const ChunkInfo& chunk_at(uint64_t seq) const {
    const StreamItem& it = schedule_[seq % schedule_.size()];
    return linears_[it.linear].s->chunks[it.chunk];
  }

  // Done with item `seq`: its ring slot, and its share of the window it points into.
  void release_item(uint64_t seq) {
    // Read before the release: the reader may then reuse the slot's entry.
    const size_t w = item_window_[seq % item_window_.size()];
    ring_->release(seq);
    if (w == kNoWindow) return;
    {
      std::lock_guard<std::mutex> lock(window_mu_);
      --windows_[w].users;
    }
    window_cv_.notify_one();
  }

  // The byte range of the run of items from `seq` on that lie back to back in the file and fit
  // in a window, as one chunk.
  ChunkInfo run_from(uint64_t seq) const {
    ChunkInfo run = chunk_at(seq);
    for (uint64_t next = seq + 1; next < seq + schedule_.size(); ++next) {
      const ChunkInfo& n = chunk_at(next);
      // Chunks are 64-byte aligned in the file: a gap below that is padding.
      const uint64_t end = run.offset + run.stored_size;
      if (n.offset < end || n.offset - end >= 64) break;
      ChunkInfo longer = run;
      longer.stored_size = n.offset + n.stored_size - run.offset;
      if (ChunkFile::direct_buffer_bytes(longer) > window_bytes_) break;
      run = longer;
    }
    return run;
  }

  // Item `seq`'s stored bytes in a read window (no copy). When the current window does not hold
  // it, the next window, once every item in it is released, is refilled with the run from `seq`
  // in one request. A window read that fails (a truncated file) is retried for this chunk alone,
  // so the error names the chunk that is missing.
  Expected<std::span<const uint8_t>> read_windowed(uint64_t seq, std::string_view what) {
    const ChunkInfo& c = chunk_at(seq);
    if (current_ == kNoWindow || !windows_[current_].holds(c)) {
      const size_t w = current_ == kNoWindow ? 0 : (current_ + 1) % kReadWindows;
      {
        std::unique_lock<std::mutex> lock(window_mu_);
        window_cv_.wait(lock, [&] { return stopping_ || windows_[w].users == 0; });
        if (stopping_) return Internal("weight source: stopped");
      }
      current_ = w;
      ReadWindow& win = windows_[w];
      win.bytes = 0;
      std::span<uint8_t> buffer = win.memory.get(window_bytes_);
      const ChunkInfo run = run_from(seq);
      auto got = file_->read_to(run, buffer, what);
      const ChunkInfo& read = got.ok() ? run : c;
      if (!got.ok()) {
        DCLLM_ASSIGN_OR_RETURN(got, file_->read_to(c, buffer, what));
      }
      win.offset = read.offset;
      win.bytes = read.stored_size;
      win.data = got->data();
    }
    ReadWindow& win = windows_[current_];
    {
      std::lock_guard<std::mutex> lock(window_mu_);
      ++win.users;
    }
    item_window_[seq % item_window_.size()] = current_;
    return std::span<const uint8_t>(win.data + (c.offset - win.offset), c.stored_size);
  }

  void read_ahead() {
    for (uint64_t seq = 0;; ++seq) {
      const StreamItem& it = schedule_[seq % schedule_.size()];
      std::span<uint8_t> slot = ring_->wait_free(seq);
      if (slot.empty()) return;
      item_window_[seq % item_window_.size()] = kNoWindow;
      const Int8StoredChunks& s = *linears_[it.linear].s;
      const std::string what = chunk_name(s, it.chunk);
      auto got = window_bytes_ > 0 ? read_windowed(seq, what)
                                   : file_->read_to(s.chunks[it.chunk], slot, what);
      if (got.ok()) {
        ring_->publish(seq, Status::Ok(), *got);
      } else {
        ring_->publish(seq, got.status());
      }
    }
  }

  std::vector<const Int8Tensor*> tensors_;
  std::vector<ChunkedLinear> linears_;
  std::vector<StreamItem> schedule_;  // streamed chunks in execution order
  std::map<std::string, std::unique_ptr<Codec>> codecs_;
  unsigned threads_;
  std::unique_ptr<ChunkFile> file_;
  std::unique_ptr<DecodeBuffer> ring_;
  // The reader's windows: each holds the stored bytes [offset, offset + bytes) of the file at
  // data, and `users` items published from it and not yet released (guarded by window_mu_; the
  // other fields are the reader's, changed only while users == 0).
  struct ReadWindow {
    ChunkScratch memory;
    uint64_t offset = 0, bytes = 0;
    const uint8_t* data = nullptr;
    size_t users = 0;
    bool holds(const ChunkInfo& c) const {
      return bytes > 0 && c.offset >= offset && c.offset + c.stored_size <= offset + bytes;
    }
  };
  std::array<ReadWindow, kReadWindows> windows_;
  size_t current_ = kNoWindow;       // the window the reader reads items from
  std::vector<size_t> item_window_;  // per ring slot: the window its item points into
  std::mutex window_mu_;
  std::condition_variable window_cv_;
  bool stopping_ = false;
  size_t window_bytes_ = 0;
  uint64_t next_ = 0;  // the compute side's next ring item
  std::thread thread_;
};

}  // namespace

Status check_stored_chunks(const Int8Tensor& t) {
  const Int8StoredChunks& s = *t.stored;
  if (s.homes.size() != s.chunks.size() || s.at.size() != s.chunks.size())
    return Internal(s.file + ": tensor '" + s.tensor + "': chunk homes do not match its chunks");
  uint64_t row = 0;
  const auto cols = static_cast<uint64_t>(t.cols);
  for (size_t k = 0; k < s.chunks.size(); ++k) {
    const ChunkInfo& c = s.chunks[k];
    if (c.first_row != row || c.row_count == 0 || c.raw_size != c.row_count * cols)
      return Corrupt(chunk_name(s, k) + ": rows do not follow on from the chunk before");
    row += c.row_count;
    if (s.homes[k] != ChunkHome::kStreamed) {
      const uint64_t n = s.homes[k] == ChunkHome::kDecoded ? c.raw_size : c.stored_size;
      if (s.at[k] > s.bytes.size() || n > s.bytes.size() - s.at[k])
        return Internal(chunk_name(s, k) + ": held bytes missing");
    }
    if (c.codec == "raw" && c.stored_size != c.raw_size)
      return Corrupt(chunk_name(s, k) + ": raw chunk of the wrong size");
  }
  if (row != static_cast<uint64_t>(t.rows))
    return Corrupt(s.file + ": tensor '" + s.tensor + "': chunks do not cover the tensor");
  return Status::Ok();
}

size_t stream_read_window_bytes(size_t slot_bytes, uint64_t streamed_stored) {
  // At most 1/8 of what is streamed (kReadWindows of them: 3/8), so that streaming a small
  // model never costs much more memory than holding it; none when that would not hold two
  // slots' worth (nothing to gain: chunks are then read straight into their slots).
  const uint64_t window = std::min(kReadWindowBytes, streamed_stored / 8 / kReadAlign * kReadAlign);
  return window >= 2 * uint64_t{slot_bytes} ? static_cast<size_t>(window) : 0;
}

uint64_t stream_ring_bytes(uint64_t largest_stored, size_t ring_slots, uint64_t streamed_stored) {
  if (largest_stored == 0) return 0;
  // The enclosing 4 KiB blocks of a chunk at any 64-byte-aligned offset, per slot; with read
  // windows, the windows instead, and slots of 64 bytes that carry no data.
  const uint64_t slot = (largest_stored + 2 * kReadAlign - 1) / kReadAlign * kReadAlign;
  const size_t window = stream_read_window_bytes(static_cast<size_t>(slot), streamed_stored);
  if (window == 0) return slot * std::max<size_t>(ring_slots, 1);
  return kReadWindows * window + 64 * std::max(ring_slots, kWindowRingSlots);
}

Expected<std::unique_ptr<WeightSource>> WeightSource::create(std::vector<const Int8Tensor*> tensors,
                                                             const WeightSourceOptions& options) {
  std::vector<ChunkedLinear> linears(tensors.size());
  std::vector<StreamItem> schedule;
  std::map<std::string, std::unique_ptr<Codec>> codecs;
  const std::string* stream_file = nullptr;
  for (size_t id = 0; id < tensors.size(); ++id) {
    const Int8Tensor* t = tensors[id];
    if (!t->stored) {
      if (t->values.size() != static_cast<size_t>(t->rows * t->cols))
        return InvalidArgument("weight source: an INT8 tensor was loaded without data");
      continue;
    }
    DCLLM_RETURN_IF_ERROR(check_stored_chunks(*t));
    const Int8StoredChunks& s = *t->stored;
    ChunkedLinear& L = linears[id];
    L.s = &s;
    L.item.assign(s.chunks.size(), kNoItem);
    for (size_t k = 0; k < s.chunks.size(); ++k) {
      const ChunkInfo& c = s.chunks[k];
      L.chunks.push_back({static_cast<int64_t>(c.first_row), static_cast<int64_t>(c.row_count)});
      const Codec* codec = nullptr;
      if (c.codec != "raw" && s.homes[k] != ChunkHome::kDecoded) {
        auto it = codecs.find(c.codec);
        if (it == codecs.end()) {
          auto made = make_codec(c.codec);
          if (!made)
            return Unsupported(fmt::format("{}: codec '{}' unavailable: {}", chunk_name(s, k),
                                           c.codec, made.status().message()));
          it = codecs.emplace(c.codec, std::move(*made)).first;
        }
        codec = it->second.get();
      }
      L.codecs.push_back(codec);
      if (s.homes[k] != ChunkHome::kStreamed) continue;
      if (stream_file && *stream_file != s.file)
        return Internal("weight source: streamed tensors of one model come from different files");
      stream_file = &s.file;
      if (L.first_item == kNoItem) L.first_item = schedule.size();
      L.item[k] = L.streamed++;
      schedule.push_back({id, k});
    }
  }
  auto w =
      std::make_unique<ChunkedWeights>(std::move(tensors), std::move(linears), std::move(schedule),
                                       std::move(codecs), std::max(1u, options.threads));
  DCLLM_RETURN_IF_ERROR(w->start_stream(options.ring_slots));
  return std::unique_ptr<WeightSource>(std::move(w));
}

}  // namespace dcllm
