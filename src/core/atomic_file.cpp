// AtomicFileWriter: temporary file (mkstemp in the target's directory) + fsync + rename.
// The destructor cleans up after any path that did not reach commit().
#include "core/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace dcllm {

Expected<AtomicFileWriter> AtomicFileWriter::create(const std::string& path) {
  AtomicFileWriter w;
  w.path_ = path;
  std::string tmpl = path + ".tmp.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  int fd = ::mkstemp(buf.data());
  if (fd < 0) return IoError(path + ": cannot create temporary file: " + std::strerror(errno));
  w.tmp_path_ = buf.data();
  // mkstemp creates 0600; give the result the mode an ordinary create would (0666 & ~umask).
  mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  w.file_ = ::fdopen(fd, "wb");
  if (!w.file_) {
    ::close(fd);
    ::unlink(w.tmp_path_.c_str());
    return IoError(path + ": cannot open temporary file");
  }
  return w;
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_path_(std::move(other.tmp_path_)),
      file_(std::exchange(other.file_, nullptr)),
      offset_(other.offset_),
      committed_(std::exchange(other.committed_, true)) {}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) std::fclose(file_);
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

Status AtomicFileWriter::write(std::span<const uint8_t> bytes) {
  if (!file_) return IoError(path_ + ": write after close");
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
    return IoError(path_ + ": write failed: " + std::strerror(errno));
  offset_ += bytes.size();
  return Status::Ok();
}

Status AtomicFileWriter::write_zeros(uint64_t count) {
  static const uint8_t kZeros[4096] = {};
  while (count > 0) {
    uint64_t n = count < sizeof(kZeros) ? count : sizeof(kZeros);
    DCLLM_RETURN_IF_ERROR(write({kZeros, static_cast<size_t>(n)}));
    count -= n;
  }
  return Status::Ok();
}

Status AtomicFileWriter::commit() {
  if (!file_) return IoError(path_ + ": commit after close");
  bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  ok = (std::fclose(file_) == 0) && ok;
  file_ = nullptr;
  if (!ok) return IoError(path_ + ": flushing temporary file failed: " + std::strerror(errno));
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    return IoError(path_ + ": rename failed: " + std::strerror(errno));
  committed_ = true;
  return Status::Ok();
}

}  // namespace dcllm
