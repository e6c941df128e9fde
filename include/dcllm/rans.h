// Our static order-0 rANS codec: 64 interleaved lanes, 32-bit states, 16-bit renormalisation,
// <= 12-bit precision with escapes for rare bytes, independent segments (docs/rans-format.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

inline constexpr int kRansLanes = 64;
inline constexpr int kRansMinPrecision = 8;
inline constexpr int kRansMaxPrecision = 12;
inline constexpr size_t kRansDefaultSegmentBytes = size_t{256} << 10;

enum class RansIsa { kAuto, kScalar, kAvx2, kAvx512 };
const char* rans_isa_name(RansIsa isa);
// True when this CPU can run the decoder for `isa` (kAuto and kScalar always can).
bool rans_isa_supported(RansIsa isa);

struct RansEncodeOptions {
  // Raw bytes per independently decodable segment: a multiple of 64 in [4 KiB, 1 GiB].
  size_t segment_bytes = kRansDefaultSegmentBytes;
  int precision = 0;             // probability precision bits 8..12; 0 picks the smallest stream
  bool escapes = true;           // let rare bytes escape the table (false: every byte in it)
  unsigned threads = 1;          // 0 = all hardware threads
  RansIsa isa = RansIsa::kAuto;  // encoder kernel (scalar or avx2); all produce identical bytes
};

struct RansDecodeOptions {
  RansIsa isa = RansIsa::kAuto;
  unsigned threads = 1;  // 0 = all hardware threads
};

// Normalises byte counts to frequencies summing to 2^precision, every present symbol >= 1,
// minimising the coded size sum_s count[s] * log2(2^precision / freq[s]) (exactly, by greedy
// exchange on this separable convex cost). Requires at least two distinct symbols.
std::array<uint32_t, 256> normalize_frequencies(const std::array<uint64_t, 256>& counts,
                                                int precision);

// Encodes `in` as one self-describing rANS stream (appended to `out`).
Status rans_encode(std::span<const uint8_t> in, std::vector<uint8_t>& out,
                   const RansEncodeOptions& options = {});

// Decodes a stream into `out`, whose size must equal the stream's raw size. Any malformed
// stream yields kCorrupt; the decoder never reads outside `in` or writes outside `out`.
Status rans_decode(std::span<const uint8_t> in, std::span<uint8_t> out,
                   const RansDecodeOptions& options = {});

// The raw size a stream declares, after validating its header.
Expected<uint64_t> rans_raw_size(std::span<const uint8_t> in);

// Order-0 entropy of `bytes` in bits per byte.
double order0_entropy_bits(std::span<const uint8_t> bytes);

}  // namespace dcllm
