// AtomicFileWriter: an unnamed O_TMPFILE file linked into place on commit, or (where the file
// system refuses O_TMPFILE) a named temporary file renamed into place and registered for
// signal cleanup. Both are created with mode 0666 so open() applies the umask: the process-wide
// umask is never read or changed, which would race with other threads creating files.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/temp_files.h"

namespace dcllm {
namespace {

std::string proc_fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

// Gives the unnamed file behind `fd` the name `dst` (which must not exist). 0 or an errno.
int link_unnamed(int fd, const std::string& dst) {
  if (::linkat(AT_FDCWD, proc_fd_path(fd).c_str(), AT_FDCWD, dst.c_str(), AT_SYMLINK_FOLLOW) == 0)
    return 0;
  const int proc_errno = errno;
  if (proc_errno == EEXIST) return EEXIST;
  // Without /proc, AT_EMPTY_PATH does the same for a process with CAP_DAC_READ_SEARCH.
  if (::linkat(fd, "", AT_FDCWD, dst.c_str(), AT_EMPTY_PATH) == 0) return 0;
  return proc_errno;
}

// So that the new name survives a power cut, not only the data.
void sync_directory(const std::string& path) {
  int dfd = ::open(parent_directory(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  (void)::fsync(dfd);  // some file systems refuse fsync on a directory: nothing to do then
  ::close(dfd);
}

}  // namespace

Expected<AtomicFileWriter> AtomicFileWriter::create(const std::string& path) {
  return create(path, Options{});
}

Expected<AtomicFileWriter> AtomicFileWriter::create(const std::string& path,
                                                    const Options& options) {
  AtomicFileWriter w;
  w.path_ = path;
  int fd = -1;
  if (options.unnamed) {
    fd = open_unnamed_temp(parent_directory(path), /*linkable=*/true);
    // commit() links through /proc/self/fd; without it (and without the capability that
    // AT_EMPTY_PATH needs) the data could not be named, so use a named file from the start.
    if (fd >= 0 && ::access(proc_fd_path(fd).c_str(), F_OK) != 0 && ::geteuid() != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd < 0) {
    DCLLM_ASSIGN_OR_RETURN(NamedTemp t, create_named_temp(path + ".tmp."));
    fd = t.fd;
    w.tmp_path_ = std::move(t.path);
    w.cleanup_slot_ = register_temp_path(w.tmp_path_);
  }
  w.file_ = ::fdopen(fd, "wb");
  if (!w.file_) {
    const int e = errno;
    ::close(fd);
    if (!w.tmp_path_.empty()) ::unlink(w.tmp_path_.c_str());
    unregister_temp_path(w.cleanup_slot_);
    return IoError(path + ": cannot open temporary file: " + std::strerror(e));
  }
  return w;
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_path_(std::exchange(other.tmp_path_, std::string())),
      file_(std::exchange(other.file_, nullptr)),
      offset_(other.offset_),
      cleanup_slot_(std::exchange(other.cleanup_slot_, -1)),
      committed_(std::exchange(other.committed_, true)) {}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) std::fclose(file_);  // an unnamed file vanishes here
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
  unregister_temp_path(cleanup_slot_);
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
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
    const int e = errno;
    std::fclose(file_);
    file_ = nullptr;
    return IoError(path_ + ": flushing temporary file failed: " + std::strerror(e));
  }
  if (tmp_path_.empty()) {
    // Unnamed: link straight onto the target when it does not exist (atomic, no name to
    // leave behind); else link under a temporary name and rename that over the target.
    const int fd = ::fileno(file_);
    int e = link_unnamed(fd, path_);
    if (e == EEXIST) {
      for (int attempt = 0; attempt < 100 && tmp_path_.empty(); ++attempt) {
        std::string tmp = random_temp_name(path_ + ".tmp.");
        // Registered before the name exists, so a signal in between cannot leave it.
        const int slot = register_temp_path(tmp);
        e = link_unnamed(fd, tmp);
        if (e == 0) {
          tmp_path_ = std::move(tmp);
          cleanup_slot_ = slot;
        } else {
          unregister_temp_path(slot);
          if (e != EEXIST) break;
        }
      }
    }
    if (e != 0) {
      std::fclose(file_);
      file_ = nullptr;
      return IoError(path_ + ": cannot link the written file into place: " + std::strerror(e));
    }
  }
  const bool closed = std::fclose(file_) == 0;
  const int close_errno = errno;
  file_ = nullptr;
  if (!closed) {
    if (tmp_path_.empty()) ::unlink(path_.c_str());  // it was linked straight onto the target
    return IoError(path_ + ": closing temporary file failed: " + std::strerror(close_errno));
  }
  if (!tmp_path_.empty() && ::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    return IoError(path_ + ": rename failed: " + std::strerror(errno));
  committed_ = true;
  unregister_temp_path(cleanup_slot_);
  cleanup_slot_ = -1;
  sync_directory(path_);
  return Status::Ok();
}

}  // namespace dcllm
