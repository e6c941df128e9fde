// is_valid_utf8: the byte-pattern table of RFC 3629, section 4, checked one sequence at a time.
#include "container/utf8.h"

#include <cstdint>

namespace dcllm {

bool is_valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  auto cont = [&](size_t k) { return k < n && (byte(k) & 0xC0) == 0x80; };
  while (i < n) {
    uint8_t b = byte(i);
    if (b < 0x80) {
      i += 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      if (!cont(i + 1)) return false;
      i += 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      if (!cont(i + 1) || !cont(i + 2)) return false;
      uint8_t b1 = byte(i + 1);
      if (b == 0xE0 && b1 < 0xA0) return false;  // overlong
      if (b == 0xED && b1 > 0x9F) return false;  // surrogate
      i += 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return false;
      uint8_t b1 = byte(i + 1);
      if (b == 0xF0 && b1 < 0x90) return false;  // overlong
      if (b == 0xF4 && b1 > 0x8F) return false;  // above U+10FFFF
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace dcllm
