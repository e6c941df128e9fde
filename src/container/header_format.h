// The fixed 80-byte header at offset 0 of a .dcllm file and the checks that tie it to the file:
// magic, version, header checksum, the region layout and the metadata+index checksum.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "dcllm/status.h"

namespace dcllm {

inline constexpr size_t kContainerHeaderSize = 80;

struct ContainerHeader {
  uint32_t version = 0;
  uint32_t flags = 0;
  uint64_t metadata_offset = 0;
  uint64_t metadata_size = 0;
  uint64_t index_offset = 0;
  uint64_t index_size = 0;
  uint64_t data_offset = 0;
  uint64_t file_size = 0;
  uint64_t body_xxh3 = 0;  // XXH3_64bits of bytes [metadata_offset, index_offset + index_size)
};

// Serialises `h` and appends the header checksum (XXH3_64bits of bytes [0, 72)).
std::array<uint8_t, kContainerHeaderSize> encode_container_header(const ContainerHeader& h);

// Decodes and validates the header of `file` (the whole file's bytes): magic, version, header
// checksum, flags, file size, the canonical layout (header | metadata | index | zero padding
// to a 64-byte boundary | data), the zero padding and the metadata+index checksum. Errors are
// one line starting with `name`.
Expected<ContainerHeader> decode_container_header(std::span<const uint8_t> file,
                                                  const std::string& name);

}  // namespace dcllm
