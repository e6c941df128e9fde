// AVX-512 rANS decode kernel: the 32 lanes as two vectors of sixteen states; renormalisation
// words are placed into the lanes that need them with a masked expand.
// GCC 12 reports its own AVX-512 intrinsics headers (_mm512_undefined_*) as uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "codec/rans_stream.h"

namespace dcllm::rans {
namespace {

template <bool kPacked>
size_t decode_steps(const DecodeTable& t, LaneCursor& c, std::span<uint8_t> out) {
  const size_t steps = out.size() / kRansLanes;
  const void* slots = t.slots.data();
  const void* wide = t.wide.data();
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i mask = _mm512_set1_epi32((1 << t.precision) - 1);
  const __m512i low = _mm512_set1_epi32(static_cast<int>(kStateLow));
  const __m128i prec = _mm_cvtsi32_si128(t.precision);
  __m512i x[2];
  for (int g = 0; g < 2; ++g) x[g] = _mm512_loadu_si512(c.state.data() + 16 * g);
  const uint8_t* ptr = c.words;
  uint8_t* dst = out.data();
  size_t s = 0;
  // A step reads at most 32 words (64 bytes): run while a whole worst-case step is in bounds.
  for (; s < steps && c.words_end - ptr >= 64; ++s) {
    for (int g = 0; g < 2; ++g) {
      __m512i e, f;
      const __m512i idx = _mm512_and_si512(x[g], mask);
      if constexpr (kPacked) {
        e = _mm512_i32gather_epi32(idx, slots, 4);
        f = _mm512_srli_epi32(e, 20);
      } else {
        __m512i a = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx), wide, 8);
        __m512i b = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx, 1), wide, 8);
        e = _mm512_permutex2var_epi32(a, even, b);
        f = _mm512_permutex2var_epi32(a, odd, b);
      }
      __m512i bias = _mm512_and_si512(_mm512_srli_epi32(e, 8), mask);
      __m512i v = _mm512_add_epi32(_mm512_mullo_epi32(f, _mm512_srl_epi32(x[g], prec)), bias);
      __mmask16 need = _mm512_cmplt_epu32_mask(v, low);
      __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ptr)));
      w = _mm512_maskz_expand_epi32(need, w);
      x[g] = _mm512_mask_or_epi32(v, need, _mm512_slli_epi32(v, 16), w);
      ptr += 2 * __builtin_popcount(static_cast<unsigned>(need));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + kRansLanes * s + 16 * g),
                       _mm512_cvtepi32_epi8(e));
    }
  }
  for (int g = 0; g < 2; ++g) _mm512_storeu_si512(c.state.data() + 16 * g, x[g]);
  c.words = ptr;
  return s * kRansLanes;
}

}  // namespace

size_t decode_steps_avx512(const DecodeTable& table, LaneCursor& cursor, std::span<uint8_t> out) {
  return table.packed ? decode_steps<true>(table, cursor, out)
                      : decode_steps<false>(table, cursor, out);
}

}  // namespace dcllm::rans
