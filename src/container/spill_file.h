// SpillFile: an anonymous temporary file beside the target that holds coded chunks until the
// index (which precedes them in the container) is known. It is unlinked as soon as it is
// created, so not even a killed process leaves it behind.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/atomic_file.h"
#include "dcllm/status.h"

namespace dcllm {

class SpillFile {
 public:
  // Creates the file in the directory of `target_path` (same file system as the result).
  static Expected<SpillFile> create(const std::string& target_path);

  SpillFile(SpillFile&& other) noexcept;
  SpillFile& operator=(SpillFile&& other) noexcept;
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;
  ~SpillFile();

  Status append(std::span<const uint8_t> bytes);
  Status append_zeros(uint64_t count);
  uint64_t size() const { return size_; }
  // Copies the whole content to `out`.
  Status copy_to(AtomicFileWriter& out) const;

 private:
  SpillFile() = default;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string target_;
};

}  // namespace dcllm
