// AVX2 rANS decode kernel: the 64 lanes as eight vectors of eight states (eight independent
// dependency chains), one packed table lookup per lane, renormalisation words spread to the
// lanes that need them by a byte shuffle chosen by the lanes' compare mask.
#include <immintrin.h>

#include "codec/rans_stream.h"

namespace dcllm::rans {
namespace {

constexpr int kGroups = kRansLanes / 8;

// For each 8-bit "lane needs a word" mask: a vpshufb control that moves word number
// popcount(mask & ((1 << k) - 1)) of a 16-byte load (broadcast to both halves) into the low
// half of lane k's dword, and zero elsewhere.
struct SpreadTable {
  alignas(32) uint8_t ctl[256][32];
  SpreadTable() {
    for (int m = 0; m < 256; ++m) {
      int next = 0;
      for (int k = 0; k < 8; ++k) {
        uint8_t* d = ctl[m] + 4 * k;
        d[0] = d[1] = d[2] = d[3] = 0x80;
        if (m >> k & 1) {
          d[0] = static_cast<uint8_t>(2 * next);
          d[1] = static_cast<uint8_t>(2 * next + 1);
          ++next;
        }
      }
    }
  }
};
const SpreadTable kSpread;

// Table lookups for eight lanes. Zen 4's vpgatherdd costs ~1.6 cycles per element; moving the
// indices through the stack as 64-bit pairs and inserting the eight table loads into two xmm
// halves costs ~1 and leaves the gather unit alone (measured, docs/rans-format.md).
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
  __m256i mask, low12, byte_mask, zero;
  __m128i prec;
};

// The arithmetic half of a step for one group of eight lanes, given its table entries `e`:
// the state update, renormalisation from the word stream, and the symbols (in dword lanes).
inline __m256i update(const Consts& k, __m256i e, __m256i& x, const uint8_t*& ptr) {
  const __m256i f = _mm256_srli_epi32(e, 20);
  const __m256i bias = _mm256_and_si256(_mm256_srli_epi32(e, 8), k.low12);
  const __m256i v = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srl_epi32(x, k.prec)), bias);
  const __m256i need = _mm256_cmpeq_epi32(_mm256_srli_epi32(v, 16), k.zero);
  const unsigned m = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(need)));
  __m256i w = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ptr)));
  w = _mm256_shuffle_epi8(w, _mm256_load_si256(reinterpret_cast<const __m256i*>(kSpread.ctl[m])));
  x = _mm256_blendv_epi8(v, _mm256_or_si256(_mm256_slli_epi32(v, 16), w), need);
  ptr += 2 * __builtin_popcount(m);
  return _mm256_and_si256(e, k.byte_mask);
}

// 4 x 8 symbol dwords -> 32 bytes at `out`; packs interleave 128-bit halves, the permute
// restores order. Returns the mask of bytes equal to the escape symbol.
inline unsigned store_half(const __m256i* sym, uint8_t* out, __m256i esc) {
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i lo = _mm256_packus_epi32(sym[0], sym[1]);
  const __m256i hi = _mm256_packus_epi32(sym[2], sym[3]);
  const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(lo, hi), order);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bytes);
  return static_cast<unsigned>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, esc)));
}

// Software-pipelined by half a step: the lookups of groups 4..7 are issued between the updates
// of groups 0..3 and vice versa, so each group's long lookup latency overlaps other groups'
// arithmetic in program order instead of filling the scheduler with waiting uops (+10%).
template <bool kEscapes>
bool decode_steps(const DecodeTable& t, LaneCursor& c, std::span<uint8_t> out, size_t& done) {
  const size_t steps = out.size() / kRansLanes;
  const Consts k{_mm256_set1_epi32((1 << t.precision) - 1), _mm256_set1_epi32(0xfff),
                 _mm256_set1_epi32(0xff), _mm256_setzero_si256(), _mm_cvtsi32_si128(t.precision)};
  const __m256i esc = _mm256_set1_epi8(static_cast<char>(t.esc_symbol));
  const uint32_t* table = t.slots.data();
  __m256i x[kGroups], e[kGroups], sym[kGroups];
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

bool decode_steps_avx2(const DecodeTable& table, LaneCursor& cursor, std::span<uint8_t> out,
                       size_t& done) {
  return table.escapes ? decode_steps<true>(table, cursor, out, done)
                       : decode_steps<false>(table, cursor, out, done);
}

}  // namespace dcllm::rans
