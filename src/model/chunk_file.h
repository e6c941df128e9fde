// ChunkFile: reads the stored bytes of .dcllm chunks with pread, for loading and for the stream
// tier, which bypasses the page cache (O_DIRECT, else pread + posix_fadvise(DONTNEED)).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "dcllm/container.h"
#include "dcllm/status.h"

namespace dcllm {

// A buffer for one chunk read with O_DIRECT: page-aligned start and length. Grown as needed,
// reused between reads, so streaming allocates nothing per chunk.
class ChunkScratch {
 public:
  std::span<uint8_t> get(size_t bytes);  // at least `bytes`, page-aligned

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_ = 0;
};

class ChunkFile {
 public:
  // bypass_cache: read with O_DIRECT where the filesystem accepts it (tmpfs does not), else
  // drop the pages read from the page cache after each read, so every use costs a storage read.
  static Expected<ChunkFile> open(const std::string& path, bool bypass_cache);

  ChunkFile(ChunkFile&& other) noexcept;
  ChunkFile& operator=(ChunkFile&& other) noexcept;
  ChunkFile(const ChunkFile&) = delete;
  ChunkFile& operator=(const ChunkFile&) = delete;
  ~ChunkFile();

  // The chunk's stored bytes, read into `scratch` (the span points into it). A short read
  // (the file was truncated) is kIoError naming `what` (file, tensor, chunk). Safe to call
  // from several threads with their own scratch. The checksum is the decoder's to check.
  Expected<std::span<const uint8_t>> read(const ChunkInfo& chunk, ChunkScratch& scratch,
                                          std::string_view what) const;
  // The buffer read_to needs for `chunk`: the enclosing 4 KiB-aligned range of its bytes.
  static size_t direct_buffer_bytes(const ChunkInfo& chunk);
  // As read(), into `buffer`: 4 KiB-aligned, at least direct_buffer_bytes(chunk) bytes (the
  // stream tier's ring slots). The result points into it.
  Expected<std::span<const uint8_t>> read_to(const ChunkInfo& chunk, std::span<uint8_t> buffer,
                                             std::string_view what) const;
  // Reads exactly the chunk's stored bytes into `out` (out.size() == stored_size), buffered.
  Status read_into(const ChunkInfo& chunk, std::span<uint8_t> out, std::string_view what) const;
  // True while reads go through O_DIRECT (it is dropped if a read is refused with EINVAL).
  bool direct() const;

 private:
  ChunkFile() = default;
  Status pread_all(int fd, uint64_t offset, std::span<uint8_t> out, size_t need,
                   std::string_view what) const;

  int fd_ = -1;         // buffered
  int direct_fd_ = -1;  // O_DIRECT, or -1
  bool bypass_ = false;
  mutable std::atomic<bool> direct_ok_{false};
};

}  // namespace dcllm
