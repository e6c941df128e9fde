// Parsing and validation of a rANS stream's header, frequency table and segment directory,
// and the decode table built from the frequencies. Nothing here trusts a size it has not checked.
#include "codec/rans_stream.h"

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
    return corrupt("precision " + std::to_string(h.precision) + " outside 12..15");
  if (h.segment_bytes == 0) return corrupt("zero segment size");
  if (h.raw_size == 0) return corrupt("empty rANS stream");

  // Frequency table: presence bitmap, then one LEB128 frequency per present symbol.
  if (size - pos < kBitmapBytes) return corrupt("truncated frequency bitmap");
  const uint8_t* bitmap = p + pos;
  pos += kBitmapBytes;
  uint64_t total = 0;
  int present = 0;
  for (int sym = 0; sym < 256; ++sym) {
    if (!(bitmap[sym >> 3] >> (sym & 7) & 1)) continue;
    uint32_t f = 0;
    for (int shift = 0;; shift += 7) {
      if (pos >= size) return corrupt("truncated frequency table");
      if (shift > 14) return corrupt("frequency varint too long");
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

  // Segment directory: one u32 payload size per segment, bounded by the bytes that remain.
  const uint64_t n_seg = (h.raw_size - 1) / h.segment_bytes + 1;
  if (n_seg > (size - pos) / 4) return corrupt("segment directory past end of stream");
  const uint8_t* dir = p + pos;
  pos += n_seg * 4;
  s.segments.reserve(n_seg);
  for (uint64_t i = 0; i < n_seg; ++i) {
    uint32_t len = load_u32(dir + 4 * i);
    if (len < kStateBytes || (len - kStateBytes) % 2 != 0)
      return corrupt("segment " + std::to_string(i) + " has invalid size " + std::to_string(len));
    if (len > size - pos) return corrupt("segment " + std::to_string(i) + " past end of stream");
    s.segments.push_back(in.subspan(pos, len));
    pos += len;
  }
  if (pos != size) return corrupt("trailing bytes after the last segment");
  return s;
}

DecodeTable build_decode_table(const std::array<uint32_t, 256>& freq, int precision) {
  DecodeTable t;
  t.precision = precision;
  t.packed = precision <= 12;
  t.freq = freq;
  t.slots.resize(size_t{1} << precision);
  if (!t.packed) t.wide.resize(t.slots.size());
  uint32_t cum = 0;
  for (uint32_t sym = 0; sym < 256; ++sym) {
    for (uint32_t i = 0; i < freq[sym]; ++i) {
      uint32_t e = sym | i << 8;
      if (t.packed) e |= freq[sym] << 20;
      t.slots[cum + i] = e;
      if (!t.packed) t.wide[cum + i] = e | uint64_t{freq[sym]} << 32;
    }
    cum += freq[sym];
  }
  return t;
}

bool decode_symbols_scalar(const DecodeTable& table, LaneCursor& c, size_t first,
                           std::span<uint8_t> out) {
  const uint32_t mask = (1u << table.precision) - 1;
  const int prec = table.precision;
  const uint32_t* slots = table.slots.data();
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t& x = c.state[(first + i) % kRansLanes];
    uint32_t e = slots[x & mask];
    uint32_t sym = e & 0xff;
    x = table.freq[sym] * (x >> prec) + ((e >> 8) & mask);
    if (x < kStateLow) {
      if (c.words_end - c.words < 2) return false;
      x = x << 16 | uint32_t{c.words[0]} | uint32_t{c.words[1]} << 8;
      c.words += 2;
    }
    out[i] = static_cast<uint8_t>(sym);
  }
  return true;
}

}  // namespace dcllm::rans
