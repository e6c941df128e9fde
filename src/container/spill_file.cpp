// SpillFile over a raw file descriptor: an O_TMPFILE file (or, where the file system refuses,
// a named one unlinked at once), write() to append, pread() to copy back in fixed-size blocks.
#include "container/spill_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "core/temp_files.h"

namespace dcllm {

Expected<SpillFile> SpillFile::create(const std::string& target_path) {
  // O_EXCL: this file is never given a name, so nothing is left even after SIGKILL.
  int fd = open_unnamed_temp(parent_directory(target_path), /*linkable=*/false);
  if (fd < 0) {
    auto t = create_named_temp(target_path + ".chunks.");
    if (!t) return t.status();  // names the file it tried to create
    // The name lives only between these two calls; a signal there is the sole way to leave it.
    const int slot = register_temp_path(t->path);
    ::unlink(t->path.c_str());
    unregister_temp_path(slot);
    fd = t->fd;
  }
  SpillFile f;
  f.fd_ = fd;
  f.target_ = target_path;
  return f;
}

SpillFile::SpillFile(SpillFile&& other) noexcept {
  *this = std::move(other);
}

SpillFile& SpillFile::operator=(SpillFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = std::exchange(other.size_, 0);
    target_ = std::move(other.target_);
  }
  return *this;
}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status SpillFile::append(std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return IoError(target_ + ": writing temporary chunk file failed: " + std::strerror(errno));
    p += n;
    left -= static_cast<size_t>(n);
  }
  size_ += bytes.size();
  return Status::Ok();
}

Status SpillFile::append_zeros(uint64_t count) {
  static const uint8_t kZeros[4096] = {};
  while (count > 0) {
    size_t n = count < sizeof(kZeros) ? static_cast<size_t>(count) : sizeof(kZeros);
    DCLLM_RETURN_IF_ERROR(append({kZeros, n}));
    count -= n;
  }
  return Status::Ok();
}

Status SpillFile::copy_to(AtomicFileWriter& out) const {
  std::vector<uint8_t> block(size_t{1} << 20);
  uint64_t pos = 0;
  while (pos < size_) {
    size_t want = size_ - pos < block.size() ? static_cast<size_t>(size_ - pos) : block.size();
    ssize_t n = ::pread(fd_, block.data(), want, static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return IoError(target_ + ": reading temporary chunk file failed: " +
                     (n == 0 ? std::string("unexpected end") : std::string(std::strerror(errno))));
    DCLLM_RETURN_IF_ERROR(out.write({block.data(), static_cast<size_t>(n)}));
    pos += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace dcllm
