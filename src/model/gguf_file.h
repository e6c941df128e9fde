// GGUF v2/v3 container parsing: header, metadata key/values of every type (arrays nest),
// tensor infos and the aligned data section — validated against the file size, no weights read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

std::string_view gguf_value_type_name(GgufValueType t);

// One metadata value. Scalars keep their exact value in the member for their kind (unsigned,
// signed or floating). Arrays hold elements of one type: numbers and bools stay packed as the
// file stores them (so a long array costs its file bytes, not a struct per element); strings
// and nested arrays become `items`.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  uint64_t u = 0;                                   // kUint*, kBool
  int64_t i = 0;                                    // kInt*
  double f = 0.0;                                   // kFloat*
  std::string str;                                  // kString
  GgufValueType elem_type = GgufValueType::kUint8;  // kArray
  uint64_t count = 0;                               // kArray: number of elements
  std::vector<uint8_t> packed;                      // kArray of numbers/bools
  std::vector<GgufValue> items;                     // kArray of strings or arrays

  bool is_integer() const;
  bool is_float() const {
    return type == GgufValueType::kFloat32 || type == GgufValueType::kFloat64;
  }
  // Integer value of an integer-typed scalar (unsigned values above INT64_MAX do not fit).
  bool as_int64(int64_t* out) const;
  // Numeric value of a scalar of any number type (bool counts as 0/1).
  bool as_double(double* out) const;
  // Element k of a packed numeric array, as a scalar GgufValue.
  GgufValue packed_element(uint64_t k) const;
  // Short human form for `inspect`: scalars in full, arrays as "[type x N]".
  std::string to_display() const;
};

// Bytes one packed element of `t` takes in the file, or 0 for strings and arrays.
size_t gguf_scalar_size(GgufValueType t);

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // GGML order: ne[0] is the contiguous (innermost) dimension
  uint32_t type = 0;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t bytes = 0;   // computed from ne and the type's block geometry
};

struct GgufFile {
  uint32_t version = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::vector<GgufTensorInfo> tensors;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // absolute offset of the data section in the file

  const GgufValue* find(std::string_view key) const;
};

// Parses and validates the structure of a GGUF file held in `bytes`. `name` prefixes errors.
// Tensor types we cannot decode are rejected here, so a parsed file is a loadable file.
Expected<GgufFile> parse_gguf(std::span<const uint8_t> bytes, const std::string& name);

}  // namespace dcllm
