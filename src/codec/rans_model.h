// The encoder's choice of coding table for one stream: precision (8..12 bits) and which rare
// bytes escape the table (coded as one shared escape symbol plus the raw byte).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace dcllm::rans {

struct TableChoice {
  int precision = 0;
  bool escapes = false;
  uint8_t esc_symbol = 0;            // the table symbol that stands for "next escape byte"
  std::array<bool, 256> escaped{};   // raw bytes coded as esc_symbol + the byte itself
  std::array<uint32_t, 256> freq{};  // the table; freq[esc_symbol] is the escape frequency
  double bytes = 0;                  // estimated table + payload bytes, without segment overhead
};

// The smallest table for these byte counts (at least two distinct bytes). `precision` 0 tries
// 8..12, else only that one; `allow_escapes` false keeps every byte in the table.
TableChoice choose_table(const std::array<uint64_t, 256>& counts, int precision,
                         bool allow_escapes);

// Bytes the table section of a stream takes: escape fields, bitmap, varints, padding to 4.
size_t table_section_bytes(const std::array<uint32_t, 256>& freq);

}  // namespace dcllm::rans
