// printable(): a string from an untrusted file made safe for a one-line error message —
// control and non-ASCII bytes escaped as \xNN, long strings cut. one_line_message(): the same
// guarantee for a whole message, applied where the CLI prints one.
#pragma once

#include <cstdint>
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

// The length of the well-formed UTF-8 sequence at s[i] for a code point a terminal prints (U+00A0
// and above: not a C1 control, which some terminals obey as an escape), else 0.
inline size_t printable_utf8_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char lead = b(0);
  size_t n = 0;
  uint32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
    cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    cp = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    cp = lead & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3Fu);
  }
  const uint32_t min_cp = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;  // no overlong forms
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp < 0xA0) return 0;
  return n;
}

// A message as one bounded line: control characters (newlines included), C1 controls and bytes
// that are not UTF-8 become \xNN; well-formed UTF-8 text (file names, "▁") stays. Past
// `max_bytes` the end is cut with "...": the beginning names the file and the fault, the tail
// is usually echoed input.
inline std::string one_line_message(std::string_view s, size_t max_bytes = 400) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  const size_t budget = max_bytes > 3 ? max_bytes - 3 : 0;
  size_t fits = 0;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::string_view unit;
    char escape[4];
    size_t n = 1;
    if (c >= 0x20 && c < 0x7F) {
      unit = s.substr(i, 1);
    } else if ((n = printable_utf8_length(s, i)) > 0) {
      unit = s.substr(i, n);
    } else {
      n = 1;
      escape[0] = '\\';
      escape[1] = 'x';
      escape[2] = kHex[c >> 4];
      escape[3] = kHex[c & 15];
      unit = std::string_view(escape, 4);
    }
    out += unit;
    i += n;
    if (out.size() <= budget) fits = out.size();  // a unit boundary: never cut inside one
    if (out.size() > max_bytes) {
      out.resize(fits);
      out += "...";
      break;
    }
  }
  return out;
}

}  // namespace dcllm
