// Test-only makers of hostile JSON inputs: deeply nested text, and a .dcllm whose metadata
// holds it behind valid checksums (ContainerWriter itself cannot write such a value).
#pragma once

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "container/container_test_files.h"
#include "dcllm/container.h"

namespace dcllm::testing {

inline std::string deep_json_array(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// A valid container whose metadata key "deep" holds a `depth`-deep array: written with a
// placeholder string of the same length, overwritten in place, then the header's metadata+index
// checksum and its own checksum (docs/format.md: offsets 64 and 72) recomputed.
inline Status write_deep_metadata_container(const std::string& path, size_t depth) {
  const std::string placeholder(2 * depth, 'x');
  auto w = ContainerWriter::create(path, {{"deep", placeholder}, {"m", 1}});
  if (!w.ok()) return w.status();
  std::vector<uint8_t> raw(16, 7);
  if (Status st = w->add_tensor({"t", {16}, DType::kU8, {}}, raw, "raw"); !st.ok()) return st;
  if (Status st = w->finish(); !st.ok()) return st;
  std::vector<uint8_t> b = read_bytes(path);
  const std::string quoted = "\"" + placeholder + "\"";
  auto at = std::search(b.begin(), b.end(), quoted.begin(), quoted.end());
  if (at == b.end()) return Internal("placeholder not found");
  const std::string deep = deep_json_array(depth) + "  ";  // same length as the quoted string
  std::copy(deep.begin(), deep.end(), at);
  auto get_u64 = [&](size_t p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{b[p + i]} << (8 * i);
    return v;
  };
  auto put_u64 = [&](size_t p, uint64_t v) {
    for (int i = 0; i < 8; ++i) b[p + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  const uint64_t index_end = get_u64(32) + get_u64(40);
  put_u64(64, XXH3_64bits(b.data() + 80, index_end - 80));
  put_u64(72, XXH3_64bits(b.data(), 72));
  write_bytes(path, b);
  return Status::Ok();
}

}  // namespace dcllm::testing
