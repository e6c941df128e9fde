// AVX2 rANS encode kernel: eight lanes per vector, the division by the frequency done exactly in
// double precision, shed words compacted in lane order and prepended to the word stream.
#include <immintrin.h>

#include "codec/rans_stream.h"

namespace dcllm::rans {
namespace {

constexpr int kGroups = kRansLanes / 8;

// For each 8-bit "lane sheds a word" mask: a permutation moving those lanes, in order, to the
// top of the vector, so one 16-byte store ending at the write pointer prepends exactly them.
struct CompactTable {
  alignas(32) uint32_t idx[256][8];
  CompactTable() {
    for (int m = 0; m < 256; ++m) {
      int cnt = __builtin_popcount(static_cast<unsigned>(m));
      int pos = 8 - cnt;
      for (int k = 0; k < 8; ++k) idx[m][k] = 0;
      for (int k = 0; k < 8; ++k)
        if (m >> k & 1) idx[m][pos++] = static_cast<uint32_t>(k);
    }
  }
};
const CompactTable kCompact;

// The table entries of eight input bytes. Eight scalar loads inserted into two xmm halves cost
// ~1 cycle per element on Zen 4, vpgatherdd ~1.6; the indices do not depend on the state, so
// the loads run ahead of the state chain.
inline __m256i lookup(const uint32_t* table, const uint8_t* src) {
  __m128i lo = _mm_cvtsi32_si128(static_cast<int>(table[src[0]]));
  lo = _mm_insert_epi32(lo, static_cast<int>(table[src[1]]), 1);
  lo = _mm_insert_epi32(lo, static_cast<int>(table[src[2]]), 2);
  lo = _mm_insert_epi32(lo, static_cast<int>(table[src[3]]), 3);
  __m128i hi = _mm_cvtsi32_si128(static_cast<int>(table[src[4]]));
  hi = _mm_insert_epi32(hi, static_cast<int>(table[src[5]]), 1);
  hi = _mm_insert_epi32(hi, static_cast<int>(table[src[6]]), 2);
  hi = _mm_insert_epi32(hi, static_cast<int>(table[src[7]]), 3);
  return _mm256_set_m128i(hi, lo);
}

// u32 -> double for values up to 2^32 (cvtepi32_pd is signed).
inline __m256d to_double(__m128i x) {
  const __m128i flip = _mm_set1_epi32(INT32_MIN);
  return _mm256_add_pd(_mm256_cvtepi32_pd(_mm_xor_si128(x, flip)), _mm256_set1_pd(2147483648.0));
}

}  // namespace

void encode_steps_avx2(const EncodeTable& t, std::array<uint32_t, kRansLanes>& state,
                       const uint8_t* in, size_t steps, uint16_t*& words, uint8_t*& esc) {
  const uint32_t* packed = t.packed.data();
  const __m128i shift_xmax = _mm_cvtsi32_si128(32 - t.precision);
  const __m256i total = _mm256_set1_epi32(1 << t.precision);
  const __m256i low12 = _mm256_set1_epi32(0xfff);
  const __m256i low16 = _mm256_set1_epi32(0xffff);
  __m256i x[kGroups];
  for (int g = 0; g < kGroups; ++g)
    x[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state.data() + 8 * g));
  uint16_t* ptr = words;
  uint8_t* esc_ptr = esc;
  for (size_t s = steps; s-- > 0;) {
    const uint8_t* src = in + kRansLanes * s;
    for (int g = kGroups - 1; g >= 0; --g) {
      const __m256i e = lookup(packed, src + 8 * g);
      // Escaped bytes (bit 31) are rare: their raw bytes are prepended in lane order, last first.
      if (int em = _mm256_movemask_ps(_mm256_castsi256_ps(e))) [[unlikely]] {
        for (int k = 7; k >= 0; --k)
          if (em >> k & 1) *--esc_ptr = src[8 * g + k];
      }
      __m256i f = _mm256_and_si256(e, low12);
      __m256i cum = _mm256_and_si256(_mm256_srli_epi32(e, 12), low12);
      __m256i x_max = _mm256_sll_epi32(f, shift_xmax);
      // x >= x_max (unsigned) <=> max(x, x_max) == x.
      __m256i shed = _mm256_cmpeq_epi32(_mm256_max_epu32(x[g], x_max), x[g]);
      int m = _mm256_movemask_ps(_mm256_castsi256_ps(shed));
      __m256i moved = _mm256_permutevar8x32_epi32(
          _mm256_and_si256(x[g], low16),
          _mm256_load_si256(reinterpret_cast<const __m256i*>(kCompact.idx[m])));
      __m128i packed16 =
          _mm_packus_epi32(_mm256_castsi256_si128(moved), _mm256_extracti128_si256(moved, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(ptr - 8), packed16);
      ptr -= __builtin_popcount(static_cast<unsigned>(m));
      __m256i v = _mm256_blendv_epi8(x[g], _mm256_srli_epi32(x[g], 16), shed);
      // After shedding v < f << (32 - precision), so q = v / f < 2^20 fits a signed int.
      __m256d fd_lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(f));
      __m256d fd_hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256(f, 1));
      __m128i q_lo =
          _mm256_cvttpd_epi32(_mm256_div_pd(to_double(_mm256_castsi256_si128(v)), fd_lo));
      __m128i q_hi =
          _mm256_cvttpd_epi32(_mm256_div_pd(to_double(_mm256_extracti128_si256(v, 1)), fd_hi));
      __m256i q = _mm256_set_m128i(q_hi, q_lo);
      x[g] = _mm256_add_epi32(_mm256_add_epi32(v, cum),
                              _mm256_mullo_epi32(q, _mm256_sub_epi32(total, f)));
    }
  }
  for (int g = 0; g < kGroups; ++g)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(state.data() + 8 * g), x[g]);
  words = ptr;
  esc = esc_ptr;
}

}  // namespace dcllm::rans
