// Header encoding and the open-time structural checks that need nothing but the header:
// everything before the data region is covered by a checksum or required to be zero.
#include "container/header_format.h"

#include <xxhash.h>

#include <algorithm>
#include <vector>

#include "container/byte_io.h"
#include "container/checked_math.h"
#include "dcllm/container.h"
#include "fmt/format.h"

namespace dcllm {
namespace {

constexpr size_t kHeaderHashedBytes = 72;

}  // namespace

std::array<uint8_t, kContainerHeaderSize> encode_container_header(const ContainerHeader& h) {
  std::vector<uint8_t> buf;
  ByteSink out(buf);
  out.bytes({reinterpret_cast<const char*>(kContainerMagic.data()), kContainerMagic.size()});
  out.u32(h.version);
  out.u32(h.flags);
  out.u64(h.metadata_offset);
  out.u64(h.metadata_size);
  out.u64(h.index_offset);
  out.u64(h.index_size);
  out.u64(h.data_offset);
  out.u64(h.file_size);
  out.u64(h.body_xxh3);
  out.u64(XXH3_64bits(buf.data(), buf.size()));
  std::array<uint8_t, kContainerHeaderSize> result{};
  std::copy(buf.begin(), buf.end(), result.begin());
  return result;
}

Expected<ContainerHeader> decode_container_header(std::span<const uint8_t> file,
                                                  const std::string& name) {
  if (file.size() < kContainerHeaderSize)
    return Corrupt(fmt::format("{}: truncated: {} bytes, the header alone needs {}", name,
                               file.size(), kContainerHeaderSize));
  if (!has_container_magic(file))
    return Corrupt(fmt::format("{}: not a .dcllm container (bad magic)", name));

  ByteSource in(file.first(kContainerHeaderSize).subspan(kContainerMagic.size()));
  ContainerHeader h;
  uint64_t stored_header_hash = 0;
  // The header is exactly 80 bytes, so none of these reads can fail.
  in.u32(h.version);
  if (h.version == 1)
    return Unsupported(fmt::format(
        "{}: container version 1 is not supported: this build reads version {} (row-aligned "
        "chunks); re-create the file with this dcllm's `compress`",
        name, kContainerVersion));
  if (h.version != kContainerVersion)
    return Unsupported(
        fmt::format("{}: container version {} is not supported: this build reads "
                    "version {}",
                    name, h.version, kContainerVersion));
  in.u32(h.flags);
  in.u64(h.metadata_offset);
  in.u64(h.metadata_size);
  in.u64(h.index_offset);
  in.u64(h.index_size);
  in.u64(h.data_offset);
  in.u64(h.file_size);
  in.u64(h.body_xxh3);
  in.u64(stored_header_hash);

  uint64_t header_hash = XXH3_64bits(file.data(), kHeaderHashedBytes);
  if (header_hash != stored_header_hash)
    return Corrupt(fmt::format("{}: header checksum mismatch (stored {:#018x}, computed {:#018x})",
                               name, stored_header_hash, header_hash));
  if (h.flags != 0)
    return Unsupported(fmt::format("{}: unknown header flags {:#x}", name, h.flags));
  if (h.file_size != file.size())
    return Corrupt(
        fmt::format("{}: file is {} bytes but its header says {} (truncated or "
                    "appended to)",
                    name, file.size(), h.file_size));
  if (h.metadata_offset != kContainerHeaderSize)
    return Corrupt(fmt::format("{}: metadata offset {} is not {}", name, h.metadata_offset,
                               kContainerHeaderSize));
  auto metadata_end = checked_add(h.metadata_offset, h.metadata_size);
  if (!metadata_end || *metadata_end > file.size())
    return Corrupt(fmt::format("{}: metadata size {} runs past end of file (size {})", name,
                               h.metadata_size, file.size()));
  if (h.index_offset != *metadata_end)
    return Corrupt(fmt::format("{}: index offset {} does not follow the metadata (end {})", name,
                               h.index_offset, *metadata_end));
  auto index_end = checked_add(h.index_offset, h.index_size);
  if (!index_end || *index_end > file.size())
    return Corrupt(fmt::format("{}: index size {} runs past end of file (size {})", name,
                               h.index_size, file.size()));
  auto data_offset = checked_align_up(*index_end, kContainerAlignment);
  if (!data_offset || h.data_offset != *data_offset)
    return Corrupt(fmt::format("{}: data offset {} is not the index end {} rounded up to {}", name,
                               h.data_offset, *index_end, kContainerAlignment));
  if (h.data_offset > file.size())
    return Corrupt(fmt::format("{}: data offset {} past end of file (size {})", name, h.data_offset,
                               file.size()));

  uint64_t body_hash = XXH3_64bits(file.data() + h.metadata_offset,
                                   static_cast<size_t>(*index_end - h.metadata_offset));
  if (body_hash != h.body_xxh3)
    return Corrupt(
        fmt::format("{}: metadata+index checksum mismatch (stored {:#018x}, computed {:#018x})",
                    name, h.body_xxh3, body_hash));
  for (uint64_t i = *index_end; i < h.data_offset; ++i)
    if (file[i] != 0)
      return Corrupt(
          fmt::format("{}: nonzero padding byte at offset {} before the data region", name, i));
  return h;
}

}  // namespace dcllm
