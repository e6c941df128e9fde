// Parsing and validation of a rANS stream's header, frequency table and segment directory, the
// decode table, and the scalar decoder. Nothing here trusts a size it has not checked.
#include "codec/rans_stream.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace dcllm::rans {

namespace {

uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
uint64_t load_u64(const uint8_t* p) {
  return load_u32(p) | uint64_t{load_u32(p + 4)} << 32;
}

Status corrupt(const std::string& what) {
  return Corrupt("rans stream: " + what);
}

}  // namespace

Expected<ParsedStream> parse_stream(std::span<const uint8_t> in) {
  if (in.size() < kHeaderBytes) return corrupt("truncated header");
  const uint8_t* p = in.data();
  if (p[0] != kMagic) return corrupt("bad magic");
  if (p[1] == 1)
    return corrupt(
        "format version 1 (32 lanes, up to 15-bit precision) is no longer read; "
        "re-encode with this dcllm (version 2)");
  if (p[1] != kVersion) return corrupt("unsupported version " + std::to_string(p[1]));
  ParsedStream s;
  Header& h = s.header;
  if (p[2] > static_cast<uint8_t>(Mode::kStored)) return corrupt("unknown mode");
  h.mode = static_cast<Mode>(p[2]);
  h.precision = p[3];
  h.segment_bytes = load_u32(p + 4);
  h.raw_size = load_u64(p + 8);
  size_t pos = kHeaderBytes;
  const size_t size = in.size();

  switch (h.mode) {
    case Mode::kStored:
      if (size - pos != h.raw_size) return corrupt("stored size does not match raw size");
      s.stored = in.subspan(pos);
      return s;
    case Mode::kConstant:
      if (size - pos != 1) return corrupt("constant stream must hold exactly one symbol byte");
      s.constant_symbol = p[pos];
      return s;
    case Mode::kRans:
      break;
  }
  if (h.precision < kRansMinPrecision || h.precision > kRansMaxPrecision)
    return corrupt("precision " + std::to_string(h.precision) + " outside 8..12");
  if (h.segment_bytes == 0 || h.segment_bytes % kRansLanes != 0)
    return corrupt("segment size " + std::to_string(h.segment_bytes) +
                   " is not a positive multiple of 64");
  if (h.raw_size == 0) return corrupt("empty rANS stream");

  // Escape flag and symbol, then the frequency table: presence bitmap and one LEB128
  // frequency per present symbol.
  if (size - pos < 2 + kBitmapBytes) return corrupt("truncated frequency table");
  if (p[pos] > 1) return corrupt("escape flag must be 0 or 1");
  s.escapes = p[pos] == 1;
  s.esc_symbol = p[pos + 1];
  if (!s.escapes && s.esc_symbol != 0) return corrupt("escape symbol set without escapes");
  pos += 2;
  const uint8_t* bitmap = p + pos;
  pos += kBitmapBytes;
  uint64_t total = 0;
  int present = 0;
  for (int sym = 0; sym < 256; ++sym) {
    if (!(bitmap[sym >> 3] >> (sym & 7) & 1)) continue;
    uint32_t f = 0;
    for (int shift = 0;; shift += 7) {
      if (pos >= size) return corrupt("truncated frequency table");
      if (shift > 7) return corrupt("frequency varint too long");
      uint8_t b = p[pos++];
      f |= uint32_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) break;
    }
    if (f == 0) return corrupt("zero frequency for a present symbol");
    s.freq[sym] = f;
    total += f;
    ++present;
  }
  if (present < 2) return corrupt("fewer than two symbols in a rANS table");
  if (total != (uint64_t{1} << h.precision))
    return corrupt("frequencies do not sum to 2^precision");
  if (s.escapes && s.freq[s.esc_symbol] == 0) return corrupt("escape symbol not in the table");
  for (; pos % kAlign != 0; ++pos)
    if (pos >= size || p[pos] != 0) return corrupt("bad padding after the frequency table");

  // Segment directory: (word count, escape count) per segment, bounded by the bytes left.
  const uint64_t n_seg = (h.raw_size - 1) / h.segment_bytes + 1;
  if (n_seg > (size - pos) / kDirEntryBytes) return corrupt("segment directory past end of stream");
  const uint8_t* dir = p + pos;
  pos += n_seg * kDirEntryBytes;
  s.segments.reserve(n_seg);
  for (uint64_t i = 0; i < n_seg; ++i) {
    const uint64_t len = std::min<uint64_t>(h.segment_bytes, h.raw_size - i * h.segment_bytes);
    const uint32_t n_words = load_u32(dir + kDirEntryBytes * i);
    const uint32_t n_esc = load_u32(dir + kDirEntryBytes * i + 4);
    // At most one word and one escape per symbol.
    if (n_words > len || n_esc > len || (!s.escapes && n_esc != 0))
      return corrupt("segment " + std::to_string(i) + " has invalid word or escape count");
    const uint64_t body = kStateBytes + 2 * uint64_t{n_words} + n_esc;
    const uint64_t padded = body + pad_to_align(body);
    if (padded > size - pos) return corrupt("segment " + std::to_string(i) + " past end of stream");
    Segment seg;
    seg.states = in.subspan(pos, kStateBytes);
    seg.words = in.subspan(pos + kStateBytes, 2 * size_t{n_words});
    seg.escapes = in.subspan(pos + kStateBytes + 2 * size_t{n_words}, n_esc);
    for (uint64_t k = body; k < padded; ++k)
      if (p[pos + k] != 0) return corrupt("segment " + std::to_string(i) + " has bad padding");
    s.segments.push_back(seg);
    pos += padded;
  }
  if (pos != size) return corrupt("trailing bytes after the last segment");
  return s;
}

void build_decode_table(const ParsedStream& s, DecodeTable& t) {
  t.precision = s.header.precision;
  t.escapes = s.escapes;
  t.esc_symbol = s.esc_symbol;
  uint32_t cum = 0;
  for (uint32_t sym = 0; sym < 256; ++sym) {
    const uint32_t f = s.freq[sym];
    for (uint32_t i = 0; i < f; ++i) t.slots[cum + i] = sym | i << 8 | f << 20;
    cum += f;
  }
}

bool apply_escapes(uint8_t esc_symbol, LaneCursor& c, std::span<uint8_t> out) {
  uint8_t* p = out.data();
  uint8_t* const end = p + out.size();
  while ((p = static_cast<uint8_t*>(std::memchr(p, esc_symbol, static_cast<size_t>(end - p))))) {
    if (c.esc == c.esc_end) return false;
    *p++ = *c.esc++;
  }
  return true;
}

namespace {

// One whole step (lanes 0..63) with every word it may need in bounds: the state updates of all
// lanes first, then the renormalisation in lane order. Splitting the two keeps the word
// pointer's serial chain (one add per lane) out of the lanes' independent arithmetic.
void scalar_step(const uint32_t* slots, uint32_t mask, int prec, LaneCursor& c, uint8_t* out) {
  uint32_t v[kRansLanes];
  for (int lane = 0; lane < kRansLanes; ++lane) {
    const uint32_t x = c.state[lane];
    const uint32_t e = slots[x & mask];
    v[lane] = (e >> 20) * (x >> prec) + (e >> 8 & 0xfff);
    out[lane] = static_cast<uint8_t>(e);
  }
  const uint8_t* w = c.words;
  for (int lane = 0; lane < kRansLanes; ++lane) {
    const bool need = v[lane] < kStateLow;
    const uint32_t word = uint32_t{w[0]} | uint32_t{w[1]} << 8;
    c.state[lane] = need ? (v[lane] << 16 | word) : v[lane];
    w += need ? 2 : 0;
  }
  c.words = w;
}

}  // namespace

bool decode_symbols_scalar(const DecodeTable& table, LaneCursor& c, size_t first,
                           std::span<uint8_t> out) {
  const uint32_t mask = (1u << table.precision) - 1;
  const int prec = table.precision;
  const uint32_t* slots = table.slots.data();
  size_t i = 0;
  while (i < out.size()) {
    const size_t lane = (first + i) % kRansLanes;
    // A step reads at most 64 words (128 bytes) and the last lane's read is 2 bytes.
    if (lane == 0 && out.size() - i >= kRansLanes && c.words_end - c.words >= 2 * kRansLanes) {
      scalar_step(slots, mask, prec, c, out.data() + i);
      if (table.escapes && !apply_escapes(table.esc_symbol, c, out.subspan(i, kRansLanes)))
        return false;
      i += kRansLanes;
      continue;
    }
    uint32_t& x = c.state[lane];
    const uint32_t e = slots[x & mask];
    x = (e >> 20) * (x >> prec) + (e >> 8 & 0xfff);
    if (x < kStateLow) {
      if (c.words_end - c.words < 2) return false;
      x = x << 16 | uint32_t{c.words[0]} | uint32_t{c.words[1]} << 8;
      c.words += 2;
    }
    uint8_t sym = static_cast<uint8_t>(e);
    if (table.escapes && sym == table.esc_symbol) {
      if (c.esc == c.esc_end) return false;
      sym = *c.esc++;
    }
    out[i++] = sym;
  }
  return true;
}

}  // namespace dcllm::rans
