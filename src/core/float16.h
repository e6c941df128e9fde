// Half-precision (IEEE fp16) and bfloat16 to float32 conversion, for reading f16/bf16 weight
// files. Both are exact: every fp16 and bf16 value is representable in float32.
#pragma once

#include <bit>
#include <cstdint>

namespace dcllm {

// bf16 is the top half of a float32, so widening is a shift.
inline float bf16_to_f32(uint16_t bits) {
  return std::bit_cast<float>(uint32_t{bits} << 16);
}

inline float fp16_to_f32(uint16_t bits) {
  const uint32_t sign = uint32_t{bits & 0x8000u} << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float32 (which has 24 significant bits).
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) {
    // Inf or NaN: keep the payload so a NaN stays a NaN.
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  // Normal: rebias the exponent from 15 to 127.
  return std::bit_cast<float>(sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13));
}

}  // namespace dcllm
