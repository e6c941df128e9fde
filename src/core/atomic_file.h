// AtomicFileWriter: writes to a temporary file beside the target and renames it into place on
// commit(), so a failed or interrupted write never leaves a file at the target path.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "dcllm/status.h"

namespace dcllm {

class AtomicFileWriter {
 public:
  static Expected<AtomicFileWriter> create(const std::string& path);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();  // removes the temporary file unless commit() succeeded

  Status write(std::span<const uint8_t> bytes);
  Status write_zeros(uint64_t count);
  uint64_t offset() const { return offset_; }
  // Flushes, fsyncs and renames the temporary file onto the target path.
  Status commit();

 private:
  AtomicFileWriter() = default;
  std::string path_, tmp_path_;
  std::FILE* file_ = nullptr;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

}  // namespace dcllm
