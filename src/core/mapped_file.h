// Read-only memory mapping of a whole file, so readers parse in place and never copy weights.
// Every reader still validates offsets against size() before touching bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dcllm/status.h"

namespace dcllm {

// Opens `path` read-only for a reader of user input: a FIFO, directory, device or socket is
// refused ("<path>: not a regular file") without blocking, since a blocking open() of a FIFO
// waits forever for a writer. Returns a descriptor (O_CLOEXEC, blocking again) that the caller
// closes. Every model, shard, tokenizer and text reader opens its files through this.
Expected<int> open_regular_file(const std::string& path);

class MappedFile {
 public:
  static Expected<MappedFile> open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace dcllm
