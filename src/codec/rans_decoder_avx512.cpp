// AVX-512 rANS decode kernel: the AVX2 kernel's schedule (eight vectors of eight states,
// software-pipelined by half a step) with AVX-512VL's compare-into-mask, masked expand of the
// renormalisation words and vpmovdb. 256-bit vectors, not 512: Zen 4 splits 512-bit operations
// in two and its 16-lane gather is slower per element than eight scalar loads
// (docs/rans-format.md). GCC 12 reports its own AVX-512 intrinsics headers (_mm512_undefined_*) as
// uninitialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "codec/rans_stream.h"

namespace dcllm::rans {
namespace {

constexpr int kGroups = kRansLanes / 8;

// Eight table lookups: indices through the stack as 64-bit pairs, entries inserted into xmm.
inline __m256i lookup(const uint32_t* table, __m256i idx) {
  alignas(32) uint64_t i[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(i), idx);
  auto at = [table](uint64_t slot) { return static_cast<int>(table[slot]); };
  __m128i lo = _mm_cvtsi32_si128(at(static_cast<uint32_t>(i[0])));
  lo = _mm_insert_epi32(lo, at(i[0] >> 32), 1);
  lo = _mm_insert_epi32(lo, at(static_cast<uint32_t>(i[1])), 2);
  lo = _mm_insert_epi32(lo, at(i[1] >> 32), 3);
  __m128i hi = _mm_cvtsi32_si128(at(static_cast<uint32_t>(i[2])));
  hi = _mm_insert_epi32(hi, at(i[2] >> 32), 1);
  hi = _mm_insert_epi32(hi, at(static_cast<uint32_t>(i[3])), 2);
  hi = _mm_insert_epi32(hi, at(i[3] >> 32), 3);
  return _mm256_set_m128i(hi, lo);
}

struct Consts {
  __m256i mask, low12, low;
  __m128i prec;
};

// State update and renormalisation of one group; returns its eight symbols in the low 8 bytes.
inline __m128i update(const Consts& k, __m256i e, __m256i& x, const uint8_t*& ptr) {
  const __m256i f = _mm256_srli_epi32(e, 20);
  const __m256i bias = _mm256_and_si256(_mm256_srli_epi32(e, 8), k.low12);
  const __m256i v = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srl_epi32(x, k.prec)), bias);
  const __mmask8 need = _mm256_cmplt_epu32_mask(v, k.low);
  __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ptr)));
  w = _mm256_maskz_expand_epi32(need, w);
  x = _mm256_mask_or_epi32(v, need, _mm256_slli_epi32(v, 16), w);
  ptr += 2 * __builtin_popcount(static_cast<unsigned>(need));
  return _mm256_cvtepi32_epi8(e);
}

// Four groups' symbols -> 32 bytes at `out`; returns the mask of escape symbols among them.
inline unsigned store_half(const __m128i* b, uint8_t* out, __m256i esc) {
  const __m256i bytes =
      _mm256_set_m128i(_mm_unpacklo_epi64(b[2], b[3]), _mm_unpacklo_epi64(b[0], b[1]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bytes);
  return _mm256_cmpeq_epi8_mask(bytes, esc);
}

template <bool kEscapes>
bool decode_steps(const DecodeTable& t, LaneCursor& c, std::span<uint8_t> out, size_t& done) {
  const size_t steps = out.size() / kRansLanes;
  const Consts k{_mm256_set1_epi32((1 << t.precision) - 1), _mm256_set1_epi32(0xfff),
                 _mm256_set1_epi32(static_cast<int>(kStateLow)), _mm_cvtsi32_si128(t.precision)};
  const __m256i esc = _mm256_set1_epi8(static_cast<char>(t.esc_symbol));
  const uint32_t* table = t.slots.data();
  __m256i x[kGroups], e[kGroups];
  __m128i sym[kGroups];
  for (int g = 0; g < kGroups; ++g)
    x[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(c.state.data() + 8 * g));
  for (int g = 0; g < 4; ++g) e[g] = lookup(table, _mm256_and_si256(x[g], k.mask));
  const uint8_t* ptr = c.words;
  size_t s = 0;
  bool ok = true;
  // A step reads at most 64 words (128 bytes): run while a whole worst-case step is in bounds.
  for (; s < steps && c.words_end - ptr >= 2 * kRansLanes; ++s) {
    uint8_t* step_out = out.data() + kRansLanes * s;
    for (int g = 4; g < 8; ++g) {
      e[g] = lookup(table, _mm256_and_si256(x[g], k.mask));
      sym[g - 4] = update(k, e[g - 4], x[g - 4], ptr);
    }
    const unsigned esc_lo = store_half(sym, step_out, esc);
    // Groups 0..3 of the next step only read the table: harmless when there is none.
    for (int g = 0; g < 4; ++g) {
      e[g] = lookup(table, _mm256_and_si256(x[g], k.mask));
      sym[g + 4] = update(k, e[g + 4], x[g + 4], ptr);
    }
    const unsigned esc_hi = store_half(sym + 4, step_out + 32, esc);
    if (kEscapes && (esc_lo | esc_hi) && !apply_escapes(t.esc_symbol, c, {step_out, kRansLanes})) {
      ok = false;
      ++s;
      break;
    }
  }
  for (int g = 0; g < kGroups; ++g)
    _mm256_store_si256(reinterpret_cast<__m256i*>(c.state.data() + 8 * g), x[g]);
  c.words = ptr;
  done = s * kRansLanes;
  return ok;
}

}  // namespace

bool decode_steps_avx512(const DecodeTable& table, LaneCursor& cursor, std::span<uint8_t> out,
                         size_t& done) {
  return table.escapes ? decode_steps<true>(table, cursor, out, done)
                       : decode_steps<false>(table, cursor, out, done);
}

}  // namespace dcllm::rans
