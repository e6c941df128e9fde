// Internal layout of a rANS stream (docs/rans-format.md) shared by the encoder and decoders:
// header fields, the parsed view of a stream, and the decode table the SIMD kernels read.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "dcllm/rans.h"

namespace dcllm::rans {

inline constexpr uint8_t kMagic = 0x52;  // 'R'
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderBytes = 16;
inline constexpr size_t kBitmapBytes = 32;
inline constexpr uint32_t kStateLow = 1u << 16;  // states live in [2^16, 2^32)
inline constexpr size_t kStateBytes = kRansLanes * sizeof(uint32_t);

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

// A validated stream: every span lies inside the input.
struct ParsedStream {
  Header header;
  uint8_t constant_symbol = 0;
  std::span<const uint8_t> stored;
  std::array<uint32_t, 256> freq{};
  std::vector<std::span<const uint8_t>>
      segments;  // payloads, segment i covers raw bytes
                 // [i*segment_bytes, min(raw, (i+1)*segment_bytes))
};

Expected<ParsedStream> parse_stream(std::span<const uint8_t> in);

// Slot tables of 2^precision entries, so each lane's step is one table lookup:
// `slots` holds the symbol in bits 0..7 and (slot - cum[symbol]) in bits 8..8+precision;
// when precision <= 12 the frequency fits in bits 20..31 too ("packed"). Above 12 bits the
// SIMD decoders read `wide` instead: the same low word and the frequency as the high word
// (two 4-lane 64-bit gathers cost about what one 8-lane 32-bit gather does).
struct DecodeTable {
  int precision = 0;
  bool packed = false;
  std::vector<uint32_t> slots;
  std::vector<uint64_t> wide;  // only when !packed
  std::array<uint32_t, 256> freq{};
};

DecodeTable build_decode_table(const std::array<uint32_t, 256>& freq, int precision);

// The state a segment decoder resumes from: lanes' states and the unread words.
struct LaneCursor {
  std::array<uint32_t, kRansLanes> state;
  const uint8_t* words;      // next unread 16-bit word (little-endian)
  const uint8_t* words_end;  // one past the segment's last word
};

// Decodes out.size() symbols starting at symbol index `first` of the segment (so lane
// = index % 32), scalar. Returns false when the words run out (corrupt stream).
bool decode_symbols_scalar(const DecodeTable& table, LaneCursor& cursor, size_t first,
                           std::span<uint8_t> out);

// SIMD kernels: decode whole 32-symbol steps from the start of `out` while enough words
// remain for a worst-case step, and return how many symbols they produced; the caller
// finishes the rest with decode_symbols_scalar.
size_t decode_steps_avx2(const DecodeTable& table, LaneCursor& cursor, std::span<uint8_t> out);
size_t decode_steps_avx512(const DecodeTable& table, LaneCursor& cursor, std::span<uint8_t> out);

// Encoder tables. Scalar: the division x / f is done as floor(x * rcp) in double with
// rcp = 1/f rounded up, exact for x < 2^32 and f < 2^15 (the product's error is below 2^-20
// while a non-integer quotient is at least 1/f > 2^-15 from the next integer).
struct EncSymbol {
  double rcp;
  uint32_t x_max;  // states at or above this must shed 16 bits first
  uint32_t cum;
  uint32_t cmpl;  // 2^precision - f: x' = x + cum + q * cmpl, q = x / f
};
struct EncodeTable {
  int precision = 0;
  std::array<EncSymbol, 256> sym{};
  std::array<uint32_t, 256> freq_cum{};  // SIMD: freq | cum << 16
};

// Encodes whole 32-symbol steps [0, steps) of `in`, last step first, updating the lane
// states and prepending 16-bit words before `*words` (which moves down).
void encode_steps_scalar(const EncodeTable& t, std::array<uint32_t, kRansLanes>& state,
                         const uint8_t* in, size_t steps, uint16_t*& words);
void encode_steps_avx2(const EncodeTable& t, std::array<uint32_t, kRansLanes>& state,
                       const uint8_t* in, size_t steps, uint16_t*& words);

}  // namespace dcllm::rans
