// NFC (UAX #15) over UTF-8: a quick-check scan copies what is already NFC, and only the segments
// around characters that may change are decomposed, reordered and composed again.
#include "model/unicode_nfc.h"

#include "model/tokenizer_tables.h"

#include <algorithm>
#include <vector>

namespace dcllm {
namespace {

// A malformed byte b travels as kRawByte + b: past U+10FFFF, so no table knows it and it composes
// with nothing.
constexpr char32_t kRawByte = 0x110000;

// Hangul syllables are L V (T) jamo sequences laid out arithmetically (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

// Below this every code point has combining class 0 and quick check Yes (the generator checks).
constexpr char32_t kFirstWithProperties = 0x300;
// And none below this has a canonical decomposition.
constexpr char32_t kFirstDecomposable = 0xC0;

// The character at s[i] into *cp, returning its length. A byte that does not start a well-formed
// sequence (Unicode Table 3-7) comes back alone, as kRawByte + byte.
size_t decode(std::string_view s, size_t i, char32_t* cp) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len;
  char32_t c, min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, c = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, c = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    *cp = kRawByte + b0;
    return 1;
  }
  bool ok = s.size() - i >= len;
  for (size_t k = 1; ok && k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    ok = (b & 0xC0) == 0x80;
    c = (c << 6) | (b & 0x3F);
  }
  if (!ok || c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    *cp = kRawByte + b0;
    return 1;
  }
  *cp = c;
  return len;
}

void encode(char32_t cp, std::string& out) {
  if (cp >= kRawByte) {
    out += static_cast<char>(cp - kRawByte);
  } else {
    append_utf8(cp, out);
  }
}

NfcProperties properties_of(char32_t cp) {
  if (cp < kFirstWithProperties || cp >= kRawByte) return {};
  return nfc_properties(cp);
}

// Text before such a character and text from it on normalize independently, so a segment that
// needs work can start there.
bool is_boundary(NfcProperties p) {
  return p.ccc == 0 && p.quick_check == NfcQuickCheck::kYes;
}

// Quick check (UAX #15 section 9) of s[pos..], which starts at a boundary or at the text's start:
// s.size() when it answers Yes, else where the last boundary before the first character it
// cannot vouch for starts.
size_t quick_check_end(std::string_view s, size_t pos) {
  size_t boundary = pos;
  uint8_t last_ccc = 0;
  size_t i = pos;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      while (++i < s.size() && static_cast<uint8_t>(s[i]) < 0x80) {
      }
      boundary = i - 1;
      last_ccc = 0;
      continue;
    }
    char32_t cp;
    const size_t len = decode(s, i, &cp);
    const NfcProperties p = properties_of(cp);
    if (p.quick_check != NfcQuickCheck::kYes || (p.ccc != 0 && p.ccc < last_ccc)) return boundary;
    if (p.ccc == 0) boundary = i;
    last_ccc = p.ccc;
    i += len;
  }
  return s.size();
}

struct Unit {
  char32_t cp;
  uint8_t ccc;
};

void decompose(char32_t cp, std::vector<Unit>& out) {
  if (cp < kFirstDecomposable || cp >= kRawByte) {
    out.push_back({cp, properties_of(cp).ccc});
    return;
  }
  if (cp - kSBase < kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back({kLBase + s / kNCount, 0});
    out.push_back({kVBase + s % kNCount / kTCount, 0});
    if (s % kTCount != 0) out.push_back({kTBase + s % kTCount, 0});
    return;
  }
  char32_t parts[2];
  const int n = canonical_decomposition(cp, parts);
  if (n == 0) {
    out.push_back({cp, properties_of(cp).ccc});
    return;
  }
  for (int k = 0; k < n; ++k) decompose(parts[k], out);  // at most 4 deep
}

// Canonical ordering: each run of non-starters stably sorted by combining class.
void reorder(std::vector<Unit>& units) {
  for (size_t i = 0; i < units.size();) {
    if (units[i].ccc == 0) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < units.size() && units[j].ccc != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(units.begin() + i, units.begin() + j,
                       [](const Unit& a, const Unit& b) { return a.ccc < b.ccc; });
    }
    i = j;
  }
}

char32_t compose_pair(char32_t first, char32_t second) {
  if (first >= kRawByte || second >= kRawByte) return 0;
  if (first - kLBase < kLCount && second - kVBase < kVCount) {
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  }
  if (first - kSBase < kSCount && (first - kSBase) % kTCount == 0 &&
      second - kTBase - 1 < kTCount - 1) {
    return first + (second - kTBase);
  }
  return primary_composite(first, second);
}

// Canonical composition in place: each character joins the last starter when a composite
// exists and nothing between blocks it (a starter, or a class at least its own).
void compose(std::vector<Unit>& units) {
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t starter = kNone;
  uint8_t last_ccc = 0;  // of the last unit kept
  size_t kept = 0;
  for (const Unit u : units) {
    if (starter != kNone && (kept == starter + 1 || last_ccc < u.ccc)) {
      if (const char32_t c = compose_pair(units[starter].cp, u.cp)) {
        units[starter].cp = c;  // primary composites are starters (the generator checks)
        continue;
      }
    }
    if (u.ccc == 0) starter = kept;
    last_ccc = u.ccc;
    units[kept++] = u;
  }
  units.resize(kept);
}

}  // namespace

bool passes_nfc_quick_check(std::string_view utf8) {
  return quick_check_end(utf8, 0) == utf8.size();
}

std::string nfc_normalize(std::string_view utf8) {
  size_t pos = quick_check_end(utf8, 0);
  if (pos == utf8.size()) return std::string(utf8);
  std::string out;
  out.reserve(utf8.size() + utf8.size() / 8);
  out.append(utf8.substr(0, pos));
  std::vector<Unit> units;
  while (pos < utf8.size()) {
    // One segment: the character at pos and all up to the next boundary.
    units.clear();
    char32_t cp;
    pos += decode(utf8, pos, &cp);
    decompose(cp, units);
    while (pos < utf8.size()) {
      const size_t len = decode(utf8, pos, &cp);
      if (is_boundary(properties_of(cp))) break;
      decompose(cp, units);
      pos += len;
    }
    reorder(units);
    compose(units);
    for (const Unit& u : units) encode(u.cp, out);
    // Copy what follows as is, up to the next segment that needs work.
    const size_t next = quick_check_end(utf8, pos);
    out.append(utf8.substr(pos, next - pos));
    pos = next;
  }
  return out;
}

}  // namespace dcllm
