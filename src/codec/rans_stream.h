// Internal layout of a rANS stream (docs/rans-format.md, version 2) shared by the encoder and the
// decoders: header fields, the parsed view of a stream, and the decode table the kernels read.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "dcllm/rans.h"

namespace dcllm::rans {

inline constexpr uint8_t kMagic = 0x52;  // 'R'
inline constexpr uint8_t kVersion = 2;
inline constexpr size_t kHeaderBytes = 16;
inline constexpr size_t kBitmapBytes = 32;
inline constexpr uint32_t kStateLow = 1u << 16;  // states live in [2^16, 2^32)
inline constexpr size_t kStateBytes = kRansLanes * sizeof(uint32_t);
inline constexpr size_t kDirEntryBytes = 8;  // u32 word count, u32 escape count
inline constexpr size_t kAlign = 4;          // directory and payloads start 4-byte aligned

enum class Mode : uint8_t {
  kRans = 0,      // frequency table + segments
  kConstant = 1,  // one symbol repeated raw_size times
  kStored = 2,    // raw bytes follow (used when coding would not shrink the input)
};

struct Header {
  Mode mode = Mode::kRans;
  int precision = 0;
  uint32_t segment_bytes = 0;
  uint64_t raw_size = 0;
};

// Bytes of zero padding after `n` bytes so the next field starts kAlign-aligned.
inline size_t pad_to_align(size_t n) {
  return (kAlign - n % kAlign) % kAlign;
}

// One segment's payload, every span inside the stream.
struct Segment {
  std::span<const uint8_t> states;   // kRansLanes little-endian u32
  std::span<const uint8_t> words;    // 16-bit little-endian renormalisation words
  std::span<const uint8_t> escapes;  // raw bytes of escaped symbols, in symbol order
};

// A validated stream: the header, the table, and the segments' payloads (segment i covers raw
// bytes [i*segment_bytes, min(raw, (i+1)*segment_bytes))).
struct ParsedStream {
  Header header;
  uint8_t constant_symbol = 0;
  std::span<const uint8_t> stored;
  bool escapes = false;  // the table symbol esc_symbol stands for the next escape byte
  uint8_t esc_symbol = 0;
  std::array<uint32_t, 256> freq{};
  std::vector<Segment> segments;
};

Expected<ParsedStream> parse_stream(std::span<const uint8_t> in);

// One 32-bit entry per slot, so a lane's step is one lookup: bits 0..7 the symbol, bits 8..19
// slot - cum[symbol], bits 20..31 the frequency (precision <= 12 makes all three fit).
struct DecodeTable {
  int precision = 0;
  bool escapes = false;
  uint8_t esc_symbol = 0;
  alignas(64) std::array<uint32_t, size_t{1} << kRansMaxPrecision> slots;
};

void build_decode_table(const ParsedStream& s, DecodeTable& t);

// Where a segment decoder stands: the lanes' states and the unread words and escapes.
struct LaneCursor {
  alignas(64) std::array<uint32_t, kRansLanes> state;
  const uint8_t* words;      // next unread 16-bit word (little-endian)
  const uint8_t* words_end;  // one past the segment's last word
  const uint8_t* esc;        // next unread escape byte
  const uint8_t* esc_end;
};

// Replaces, in order, every byte of `out` equal to the escape symbol with the next escape byte.
// False when the escapes run out (corrupt stream). The SIMD kernels call it on the rare steps
// that decoded an escape symbol.
bool apply_escapes(uint8_t esc_symbol, LaneCursor& c, std::span<uint8_t> out);

// Decodes out.size() symbols starting at symbol index `first` of the segment (so lane
// = index % kRansLanes), scalar. Returns false when words or escapes run out (corrupt stream).
bool decode_symbols_scalar(const DecodeTable& table, LaneCursor& cursor, size_t first,
                           std::span<uint8_t> out);

// SIMD kernels: decode whole kRansLanes-symbol steps from the start of `out` while a
// worst-case step's words are in bounds. They set `done` to the symbols produced and return
// false on a corrupt stream (escapes ran out); the caller finishes the rest with
// decode_symbols_scalar.
bool decode_steps_avx2(const DecodeTable& table, LaneCursor& cursor, std::span<uint8_t> out,
                       size_t& done);
bool decode_steps_avx512(const DecodeTable& table, LaneCursor& cursor, std::span<uint8_t> out,
                         size_t& done);

// Encoder tables, indexed by the raw byte (an escaped byte maps to the escape symbol's entry).
// Scalar: the division x / f is done as floor(x * rcp) in double with rcp = 1/f rounded up,
// exact for x < 2^32 and f < 2^12 (the product's error is below 2^-20 while a non-integer
// quotient is at least 1/f > 2^-12 from the next integer).
struct EncSymbol {
  double rcp;
  uint32_t x_max;  // states at or above this must shed 16 bits first
  uint32_t cum;
  uint32_t cmpl;  // 2^precision - f: x' = x + cum + q * cmpl, q = x / f
};
struct EncodeTable {
  int precision = 0;
  std::array<EncSymbol, 256> sym{};
  // SIMD: freq | cum << 12 | escaped << 31 (freq, cum < 2^12).
  alignas(64) std::array<uint32_t, 256> packed{};
  std::array<bool, 256> escaped{};
};

// Encodes whole steps [0, steps) of `in`, last step first, updating the lane states,
// prepending 16-bit words before `*words` and escaped raw bytes before `*esc` (both move down).
void encode_steps_scalar(const EncodeTable& t, std::array<uint32_t, kRansLanes>& state,
                         const uint8_t* in, size_t steps, uint16_t*& words, uint8_t*& esc);
void encode_steps_avx2(const EncodeTable& t, std::array<uint32_t, kRansLanes>& state,
                       const uint8_t* in, size_t steps, uint16_t*& words, uint8_t*& esc);

}  // namespace dcllm::rans
