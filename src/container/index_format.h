// The binary tensor index of a .dcllm file: a codec name table, then one record per tensor with
// its spec and chunk list (docs/format.md, "Tensor index").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/container.h"

namespace dcllm {

inline constexpr size_t kMaxCodecNameBytes = 64;

// Codec names: 1..64 bytes of [A-Za-z0-9._:+-].
bool is_valid_codec_name(std::string_view name);

// Serialises `tensors`; each chunk's offset is written as chunk.offset + offset_base.
std::vector<uint8_t> serialize_index(const std::vector<TensorEntry>& tensors, uint64_t offset_base);

// Parses and validates an index: every count bounded by the bytes left before anything is
// reserved, every spec valid, chunk raw ranges tiling each tensor, chunks 64-byte aligned,
// inside [data_offset, file_size) and not overlapping. Errors are one line starting with `name`.
Expected<std::vector<TensorEntry>> parse_index(std::span<const uint8_t> index, uint64_t data_offset,
                                               uint64_t file_size, const std::string& name);

}  // namespace dcllm
