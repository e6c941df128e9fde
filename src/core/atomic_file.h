// AtomicFileWriter: writes to a temporary file beside the target and moves it into place on
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
  struct Options {
    // true: an unnamed O_TMPFILE file, linked to the target on commit (nothing to leave
    // behind even on SIGKILL); falls back to a named file where the file system refuses.
    // false: always the named `<target>.tmp.XXXXXX` (tests use it to exercise the fallback).
    bool unnamed = true;
  };
  static Expected<AtomicFileWriter> create(const std::string& path);
  static Expected<AtomicFileWriter> create(const std::string& path, const Options& options);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();  // removes the temporary file unless commit() succeeded

  Status write(std::span<const uint8_t> bytes);
  Status write_zeros(uint64_t count);
  uint64_t offset() const { return offset_; }
  // True while the data lives in an unnamed file (no name exists to clean up).
  bool is_unnamed() const { return tmp_path_.empty() && file_ != nullptr; }
  // Flushes, fsyncs and moves the file onto the target path (link or rename), then fsyncs the
  // directory. The file gets mode 0666 & ~umask, like an ordinary create.
  Status commit();

 private:
  AtomicFileWriter() = default;
  std::string path_, tmp_path_;  // tmp_path_ empty: unnamed file
  std::FILE* file_ = nullptr;
  uint64_t offset_ = 0;
  int cleanup_slot_ = -1;  // signal-cleanup registry slot of tmp_path_
  bool committed_ = false;
};

}  // namespace dcllm
