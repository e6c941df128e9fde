// ChunkFile: pread of chunk bytes. O_DIRECT needs the file offset, the length and the buffer
// aligned to the device's block; chunks are only 64-aligned, so a direct read covers the
// enclosing 4 KiB-aligned range and the chunk is a sub-span of it.
#include "model/chunk_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "core/mapped_file.h"
#include "fmt/format.h"

namespace dcllm {
namespace {

// The largest logical block size O_DIRECT needs in practice (4 KiB sectors, page size).
constexpr uint64_t kDirectAlign = 4096;

uint64_t align_up(uint64_t x, uint64_t a) {
  return (x + a - 1) / a * a;
}

}  // namespace

void ChunkScratch::Free::operator()(uint8_t* p) const {
  std::free(p);
}

std::span<uint8_t> ChunkScratch::get(size_t bytes) {
  if (bytes > size_ || !data_) {
    const size_t size = static_cast<size_t>(align_up(std::max<size_t>(bytes, 1), kDirectAlign));
    data_.reset(static_cast<uint8_t*>(std::aligned_alloc(kDirectAlign, size)));
    if (!data_) throw std::bad_alloc();
    size_ = size;
  }
  return {data_.get(), size_};
}

Expected<ChunkFile> ChunkFile::open(const std::string& path, bool bypass_cache) {
  DCLLM_ASSIGN_OR_RETURN(const int fd, open_regular_file(path));
  ChunkFile f;
  f.fd_ = fd;
  f.bypass_ = bypass_cache;
  if (bypass_cache) {
    // tmpfs and some FUSE filesystems refuse O_DIRECT at open (EINVAL): then fadvise it is.
    f.direct_fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    f.direct_ok_ = f.direct_fd_ >= 0;
  }
  return f;
}

ChunkFile::ChunkFile(ChunkFile&& other) noexcept {
  *this = std::move(other);
}

ChunkFile& ChunkFile::operator=(ChunkFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    if (direct_fd_ >= 0) ::close(direct_fd_);
    fd_ = std::exchange(other.fd_, -1);
    direct_fd_ = std::exchange(other.direct_fd_, -1);
    bypass_ = other.bypass_;
    direct_ok_ = other.direct_ok_.load();
  }
  return *this;
}

ChunkFile::~ChunkFile() {
  if (fd_ >= 0) ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

bool ChunkFile::direct() const {
  return direct_ok_;
}

// Reads into `out` from `offset` until `need` bytes are there (a direct read may also ask for
// the tail of the last block, which lies past the end of the file).
Status ChunkFile::pread_all(int fd, uint64_t offset, std::span<uint8_t> out, size_t need,
                            std::string_view what) const {
  size_t got = 0;
  while (got < need) {
    const ssize_t n =
        ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      if (err == EINVAL) return InvalidArgument(std::string(what) + ": O_DIRECT read refused");
      return IoError(fmt::format("{}: read failed: {}", what, std::strerror(err)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < need)
    return IoError(
        fmt::format("{}: short read ({} of {} bytes): the file was truncated", what, got, need));
  return Status::Ok();
}

size_t ChunkFile::direct_buffer_bytes(const ChunkInfo& c) {
  const uint64_t start = c.offset / kDirectAlign * kDirectAlign;
  return static_cast<size_t>(align_up(c.offset + c.stored_size, kDirectAlign) - start);
}

Expected<std::span<const uint8_t>> ChunkFile::read(const ChunkInfo& c, ChunkScratch& scratch,
                                                   std::string_view what) const {
  return read_to(c, scratch.get(direct_buffer_bytes(c)), what);
}

Expected<std::span<const uint8_t>> ChunkFile::read_to(const ChunkInfo& c, std::span<uint8_t> buf,
                                                      std::string_view what) const {
  const size_t need = direct_buffer_bytes(c);
  if (buf.size() < need || reinterpret_cast<uintptr_t>(buf.data()) % kDirectAlign != 0)
    return Internal(
        fmt::format("{}: read buffer of {} bytes, {} aligned ones needed", what, buf.size(), need));
  if (direct_ok_) {
    const uint64_t start = c.offset / kDirectAlign * kDirectAlign;
    Status st = pread_all(direct_fd_, start, buf.first(need),
                          static_cast<size_t>(c.offset + c.stored_size - start), what);
    if (st.ok()) return std::span<const uint8_t>(buf.data() + (c.offset - start), c.stored_size);
    if (st.code() != StatusCode::kInvalidArgument) return st;
    direct_ok_ = false;  // the filesystem accepted the open but not the read: go buffered
  }
  DCLLM_RETURN_IF_ERROR(read_into(c, buf.first(static_cast<size_t>(c.stored_size)), what));
  return std::span<const uint8_t>(buf.data(), c.stored_size);
}

Status ChunkFile::read_into(const ChunkInfo& c, std::span<uint8_t> out,
                            std::string_view what) const {
  if (out.size() != c.stored_size)
    return InvalidArgument(
        fmt::format("{}: buffer of {} bytes for {}", what, out.size(), c.stored_size));
  DCLLM_RETURN_IF_ERROR(pread_all(fd_, c.offset, out, out.size(), what));
  if (bypass_) {
    // Drop what was just read from the page cache, so the next use reads storage again.
    ::posix_fadvise(fd_, static_cast<off_t>(c.offset), static_cast<off_t>(c.stored_size),
                    POSIX_FADV_DONTNEED);
  }
  return Status::Ok();
}

}  // namespace dcllm
