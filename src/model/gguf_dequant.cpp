// GGML block decoders, one function per format, written from the block layouts: each block
// holds a float16 scale (and for *_1 / K formats a minimum) followed by packed integers.
#include "model/gguf_dequant.h"

#include <bit>
#include <cstring>

namespace dcllm {
namespace {

uint16_t load_u16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
float load_f16(const uint8_t* p) {
  return fp16_to_fp32(load_u16(p));
}

// Q4_0: d, then 16 bytes; low nibbles are values 0..15, high nibbles 16..31, offset by 8.
void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

// Q4_1: like Q4_0 but unsigned nibbles with a per-block minimum m: x = q*d + m.
void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const float m = load_f16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// Q5_0: the fifth bit of value j lives in bit j of a 32-bit word qh; values offset by 16.
void dequant_q5_0(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const uint32_t qh = load_u32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int hi0 = ((qh >> j) & 1) << 4;
    const int hi1 = ((qh >> (j + 16)) & 1) << 4;
    y[j] = static_cast<float>(((qs[j] & 0x0F) | hi0) - 16) * d;
    y[j + 16] = static_cast<float>(((qs[j] >> 4) | hi1) - 16) * d;
  }
}

// Q5_1: Q5_0's bit layout with an unsigned value and a minimum.
void dequant_q5_1(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const float m = load_f16(b + 2);
  const uint32_t qh = load_u32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int hi0 = ((qh >> j) & 1) << 4;
    const int hi1 = ((qh >> (j + 16)) & 1) << 4;
    y[j] = static_cast<float>((qs[j] & 0x0F) | hi0) * d + m;
    y[j + 16] = static_cast<float>((qs[j] >> 4) | hi1) * d + m;
  }
}

// Q8_0: d, then 32 signed bytes.
void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// K formats pack eight 6-bit (scale, min) pairs for the 32-value sub-blocks into 12 bytes:
// pairs 0..3 sit in the low 6 bits of bytes 0..3 (scale) and 4..7 (min); pairs 4..7 keep
// their low 4 bits in bytes 8..11 and their top 2 bits in the spare high bits of bytes 0..7.
void k_scale_min(int j, const uint8_t* s, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K: a 256-value super-block: d, dmin, 12 scale bytes, 128 bytes of nibbles. Each 32-byte
// run of qs holds two sub-blocks: low nibbles the first, high nibbles the second.
void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const float dmin = load_f16(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qs = b + 16;
  for (int sub = 0; sub < 8; sub += 2) {
    int sc0, m0, sc1, m1;
    k_scale_min(sub, scales, &sc0, &m0);
    k_scale_min(sub + 1, scales, &sc1, &m1);
    const float d0 = d * static_cast<float>(sc0), min0 = dmin * static_cast<float>(m0);
    const float d1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
    for (int l = 0; l < 32; ++l) y[l] = d0 * static_cast<float>(qs[l] & 0x0F) - min0;
    for (int l = 0; l < 32; ++l) y[32 + l] = d1 * static_cast<float>(qs[l] >> 4) - min1;
    y += 64;
    qs += 32;
  }
}

// Q5_K: Q4_K plus a fifth bit per value: bit (2*pair) / (2*pair+1) of qh[l] for the two
// sub-blocks of the pair-th 64-value group.
void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const float dmin = load_f16(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int sub = 0; sub < 8; sub += 2) {
    int sc0, m0, sc1, m1;
    k_scale_min(sub, scales, &sc0, &m0);
    k_scale_min(sub + 1, scales, &sc1, &m1);
    const float d0 = d * static_cast<float>(sc0), min0 = dmin * static_cast<float>(m0);
    const float d1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
    const int bit0 = sub, bit1 = sub + 1;
    for (int l = 0; l < 32; ++l) {
      const int q = (qs[l] & 0x0F) | (((qh[l] >> bit0) & 1) << 4);
      y[l] = d0 * static_cast<float>(q) - min0;
    }
    for (int l = 0; l < 32; ++l) {
      const int q = (qs[l] >> 4) | (((qh[l] >> bit1) & 1) << 4);
      y[32 + l] = d1 * static_cast<float>(q) - min1;
    }
    y += 64;
    qs += 32;
  }
}

// Q6_K: 128 bytes of low nibbles (ql), 64 bytes of 2-bit highs (qh), 16 signed 8-bit scales
// (one per 16 values), then d. Each 128-value half uses 64 ql bytes and 32 qh bytes; value
// l + 32*k of the half takes its 2 high bits from qh[l] bits 2k..2k+1. Values offset by 32.
void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = load_f16(b + 208);
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q0 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q1 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q0);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q1);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q2);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q3);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

}  // namespace

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: shift the mantissa up until its leading 1 becomes the implicit bit.
    int e = 113;
    while ((mant & 0x400) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3FF) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bf16_to_fp32(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

void dequantize(GgmlType type, const uint8_t* src, size_t n, float* dst) {
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case GgmlType::kF16:
      for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src + 2 * i));
      return;
    case GgmlType::kBF16:
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(src + 2 * i));
      return;
    default:
      break;
  }
  const auto traits = ggml_type_traits(static_cast<uint32_t>(type));
  if (!traits) return;  // unreachable: the reader rejected unknown types
  void (*block_fn)(const uint8_t*, float*) = nullptr;
  switch (type) {
    case GgmlType::kQ4_0:
      block_fn = dequant_q4_0;
      break;
    case GgmlType::kQ4_1:
      block_fn = dequant_q4_1;
      break;
    case GgmlType::kQ5_0:
      block_fn = dequant_q5_0;
      break;
    case GgmlType::kQ5_1:
      block_fn = dequant_q5_1;
      break;
    case GgmlType::kQ8_0:
      block_fn = dequant_q8_0;
      break;
    case GgmlType::kQ4_K:
      block_fn = dequant_q4_k;
      break;
    case GgmlType::kQ5_K:
      block_fn = dequant_q5_k;
      break;
    case GgmlType::kQ6_K:
      block_fn = dequant_q6_k;
      break;
    default:
      return;
  }
  const size_t blocks = n / traits->block_elems;
  for (size_t i = 0; i < blocks; ++i) {
    block_fn(src + i * traits->block_bytes, dst + i * traits->block_elems);
  }
}

}  // namespace dcllm
