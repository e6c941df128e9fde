// GGML tensor element types as numbered in GGUF files, with their block geometry.
// Sizes come from the GGML block layouts (docs/models.md lists them); unknown ids are rejected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dcllm {

enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kBF16 = 30,
};

struct GgmlTypeTraits {
  GgmlType type;
  std::string_view name;  // "F32", "Q4_K", ... as llama.cpp prints them
  size_t block_elems;     // values per block (1 for plain floats)
  size_t block_bytes;     // bytes per block
};

// The traits of a type id read from a file, or nullopt when we cannot dequantize it.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id);
// Name for any id, known or not ("type 23" for ones we lack), for messages and inspect.
std::string ggml_type_name(uint32_t type_id);

}  // namespace dcllm
