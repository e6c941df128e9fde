// printable(): a string from an untrusted file made safe for a one-line error message —
// control and non-ASCII bytes escaped as \xNN, long strings cut.
#pragma once

#include <string>
#include <string_view>

namespace dcllm {

inline std::string printable(std::string_view s, size_t max_chars = 96) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace dcllm
