// Overflow-checked arithmetic on the u64 sizes and offsets read from untrusted files, so that a
// crafted index can never wrap a bound check around.
#pragma once

#include <cstdint>
#include <optional>

namespace dcllm {

inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// Rounds up to a multiple of `alignment` (a power of two), or nullopt on overflow.
inline std::optional<uint64_t> checked_align_up(uint64_t value, uint64_t alignment) {
  auto r = checked_add(value, alignment - 1);
  if (!r) return std::nullopt;
  return *r & ~(alignment - 1);
}

}  // namespace dcllm
