// AVX-512 VNNI kernel for int8_gemm: register tiles of 4 rows x 2 tokens, 64 bytes a step, with
// vpdpbusd multiplying and accumulating into int32 in one instruction. Needs AVX-512 F/BW/VL/DQ
// (the file's flags) plus VNNI, which only the functions marked DCLLM_VNNI may use.
// GCC 12 reports its own AVX-512 intrinsics headers (_mm512_undefined_*) as uninitialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "runtime/int8_gemm.h"
#include "runtime/int8_gemm_epilogue.h"

// Per function, not for the file: nothing else compiled here may emit VNNI instructions.
#define DCLLM_VNNI __attribute__((target("avx512vnni")))

namespace dcllm {
namespace {

// vpdpbusd multiplies unsigned by signed bytes and adds each group of four products into an
// int32 lane, without saturation. It gets |w| (0..128) and x negated where w < 0 (x is in
// [-127, 127], so negation is exact): |w| * (x * sign(w)) = w * x for every byte.
DCLLM_VNNI inline __m512i dot64(__m512i acc, __m512i w_abs, __mmask64 w_negative, __m512i x) {
  const __m512i x_signed = _mm512_mask_sub_epi8(x, w_negative, _mm512_setzero_si512(), x);
  return _mm512_dpbusd_epi32(acc, w_abs, x_signed);
}

// The horizontal sums of four vectors, one per lane (integer adds: any order is exact).
inline __m256i fold(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}
inline __m128i reduce4(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m256i h =
      _mm256_hadd_epi32(_mm256_hadd_epi32(fold(a), fold(b)), _mm256_hadd_epi32(fold(c), fold(d)));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// One 64-byte step (or a shorter one through `mask`: masked-off bytes load as 0 and are not
// touched in memory) of R rows x T tokens.
template <int R, int T>
DCLLM_VNNI inline void step(const int8_t* const* wr, const int8_t* const* xr, int k, __mmask64 mask,
                            __m512i (&acc)[R][T]) {
  __m512i xv[T];
  for (int t = 0; t < T; ++t) xv[t] = _mm512_maskz_loadu_epi8(mask, xr[t] + k);
  for (int r = 0; r < R; ++r) {
    const __m512i wv = _mm512_maskz_loadu_epi8(mask, wr[r] + k);
    const __m512i wa = _mm512_abs_epi8(wv);
    const __mmask64 wn = _mm512_movepi8_mask(wv);
    for (int t = 0; t < T; ++t) acc[r][t] = dot64(acc[r][t], wa, wn, xv[t]);
  }
}

// The exact int32 sums over [k_begin, k_end) of R rows x T tokens, one row per lane (R == 1:
// every lane holds the row's), 64 bytes a step, masked at the end.
template <int R, int T>
DCLLM_VNNI inline void dots64(const int8_t* const* wr, const int8_t* const* xr, int k_begin,
                              int k_end, __m128i (&dots)[T]) {
  __m512i acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
  int k = k_begin;
  for (; k + 64 <= k_end; k += 64) step<R, T>(wr, xr, k, ~__mmask64{0}, acc);
  if (k < k_end) step<R, T>(wr, xr, k, (__mmask64{1} << (k_end - k)) - 1, acc);
  for (int t = 0; t < T; ++t) {
    if constexpr (R == 4) {
      dots[t] = reduce4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
    } else {
      dots[t] = reduce4(acc[0][t], acc[0][t], acc[0][t], acc[0][t]);
    }
  }
}

// For 4 rows, the 4 block sums of two 64-byte steps (acc_a: blocks 0 and 1 in its 256-bit
// halves, acc_b: blocks 2 and 3): 128-bit lane j of the result holds block j's sums of rows
// 0..3. Integer adds, so any order is exact.
inline __m512i block_sums4(const __m512i (&a)[4], const __m512i (&b)[4]) {
  __m512i c[4];
  for (int r = 0; r < 4; ++r) {
    // Lane j of c[r]: block j's four partial sums of row r.
    const __m512i lo = _mm512_shuffle_i64x2(a[r], b[r], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i hi = _mm512_shuffle_i64x2(a[r], b[r], _MM_SHUFFLE(3, 1, 3, 1));
    c[r] = _mm512_add_epi32(lo, hi);
  }
  // Transpose-and-add within each 128-bit lane: [row0, row1, row2, row3] sums.
  const __m512i p01 =
      _mm512_add_epi32(_mm512_unpacklo_epi32(c[0], c[1]), _mm512_unpackhi_epi32(c[0], c[1]));
  const __m512i p23 =
      _mm512_add_epi32(_mm512_unpacklo_epi32(c[2], c[3]), _mm512_unpackhi_epi32(c[2], c[3]));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(p01, p23), _mm512_unpackhi_epi64(p01, p23));
}

// Activation blocks: lanes hold rows; block b adds into the contract's lane b % 4 (as the AVX2
// kernel's batch tile does). With 4 rows and blocks of 32, four whole blocks (two 64-byte
// steps) go at a time: their sums come out as one vector whose 128-bit lane j is the
// contract's lane j, so they are scaled and added together.
template <int R, int T>
DCLLM_VNNI void tile_blocks(const GemmProblem& p, int n, int m) {
  const int8_t* wr[R];
  const int8_t* xr[T];
  for (int r = 0; r < R; ++r) wr[r] = p.w.values + static_cast<size_t>(n + r) * p.K;
  for (int t = 0; t < T; ++t) xr[t] = p.x.data + static_cast<size_t>(m + t) * p.K;
  __m128 lanes[T][4];
  for (int t = 0; t < T; ++t)
    for (int j = 0; j < 4; ++j) lanes[t][j] = _mm_setzero_ps();
  int b = 0;
  if constexpr (R == 4) {
    if (p.B == 32) {
      const int quads = p.K / 128;  // whole quads of whole blocks
      // Lane j of the result takes scale j of the four loaded.
      const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
      __m512 z[T];
      for (int t = 0; t < T; ++t) z[t] = _mm512_setzero_ps();
      for (int q = 0; q < quads; ++q) {
        __m512i acc_a[R][T], acc_b[R][T];
        for (int r = 0; r < R; ++r)
          for (int t = 0; t < T; ++t)
            acc_a[r][t] = _mm512_setzero_si512(), acc_b[r][t] = _mm512_setzero_si512();
        step<R, T>(wr, xr, 128 * q, ~__mmask64{0}, acc_a);
        step<R, T>(wr, xr, 128 * q + 64, ~__mmask64{0}, acc_b);
        for (int t = 0; t < T; ++t) {
          const __m512i a[4] = {acc_a[0][t], acc_a[1][t], acc_a[2][t], acc_a[3][t]};
          const __m512i bb[4] = {acc_b[0][t], acc_b[1][t], acc_b[2][t], acc_b[3][t]};
          const __m512 sums = _mm512_cvtepi32_ps(block_sums4(a, bb));
          const __m512 scales = _mm512_permutexvar_ps(
              spread, _mm512_castps128_ps512(_mm_loadu_ps(p.x_block_scales(m + t) + 4 * q)));
          z[t] = _mm512_add_ps(z[t], rounded(_mm512_mul_ps(sums, scales)));
        }
      }
      for (int t = 0; t < T; ++t) {
        lanes[t][0] = _mm512_castps512_ps128(z[t]);
        lanes[t][1] = _mm512_extractf32x4_ps(z[t], 1);
        lanes[t][2] = _mm512_extractf32x4_ps(z[t], 2);
        lanes[t][3] = _mm512_extractf32x4_ps(z[t], 3);
      }
      b = 4 * quads;
    }
  }
  for (; b < p.blocks; ++b) {
    const int k_begin = b * p.B;
    __m128i dots[T];
    dots64<R, T>(wr, xr, k_begin, std::min(p.K, k_begin + p.B), dots);
    for (int t = 0; t < T; ++t) {
      const __m128 s = _mm_set1_ps(p.x_block_scales(m + t)[b]);
      __m128& l = lanes[t][b % 4];
      l = _mm_add_ps(l, rounded(_mm_mul_ps(_mm_cvtepi32_ps(dots[t]), s)));
    }
  }
  for (int t = 0; t < T; ++t) store_block_lanes<R>(p, n, m + t, lanes[t]);
}

// R weight rows from n (4 or 1) x T tokens from m, 64 bytes a step, masked at the end. Group
// sums are reduced to exact int32 before any float operation, as in every kernel.
template <int R, int T>
DCLLM_VNNI void tile(const GemmProblem& p, int n, int m) {
  if (p.act_blocks) return tile_blocks<R, T>(p, n, m);
  const int8_t* wr[R];
  const int8_t* xr[T];
  for (int r = 0; r < R; ++r) wr[r] = p.w.values + static_cast<size_t>(n + r) * p.K;
  for (int t = 0; t < T; ++t) xr[t] = p.x.data + static_cast<size_t>(m + t) * p.K;
  __m128 sums[T];
  __m128i dots[T];
  for (int t = 0; t < T; ++t) sums[t] = _mm_setzero_ps(), dots[t] = _mm_setzero_si128();
  for (int g = 0; g < p.groups; ++g) {
    const int k_begin = g * p.G;
    const int k_end = std::min(p.K, k_begin + p.G);
    __m512i acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
    int k = k_begin;
    for (; k + 64 <= k_end; k += 64) step<R, T>(wr, xr, k, ~__mmask64{0}, acc);
    if (k < k_end) step<R, T>(wr, xr, k, (__mmask64{1} << (k_end - k)) - 1, acc);
    const __m128 scales = p.grouped ? group_scales<R>(p, n, g) : _mm_setzero_ps();
    for (int t = 0; t < T; ++t) {
      if constexpr (R == 4) {
        dots[t] = reduce4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
      } else {
        dots[t] = reduce4(acc[0][t], acc[0][t], acc[0][t], acc[0][t]);
      }
      if (p.grouped) sums[t] = add_group(sums[t], dots[t], scales);
    }
  }
  for (int t = 0; t < T; ++t) {
    if (p.grouped) {
      store_group_sums<R>(p, n, m + t, sums[t]);
    } else {
      store_dots<R>(p, n, m + t, dots[t]);
    }
  }
}

}  // namespace

// Not itself marked VNNI (its declaration in the header is not); the tiles it calls are.
void int8_gemm_block_avx512vnni(const Int8Activations& x, const Int8MatrixView& w,
                                const float* bias, float* y, int n_begin, int n_end) {
  // Grouped weights with activation blocks: the reference runs them (see int8_gemm.h).
  if (x.block > 0 && w.scheme == QuantScheme::kGroup)
    return int8_gemm_block_generic(x, w, bias, y, n_begin, n_end);
  const GemmProblem p(x, w, bias, y);
  constexpr int kTokenBlock = 32;
  for (int m0 = 0; m0 < x.rows; m0 += kTokenBlock) {
    const int m1 = std::min(x.rows, m0 + kTokenBlock);
    int n = n_begin;
    for (; n + 4 <= n_end; n += 4) {
      int m = m0;
      for (; m + 2 <= m1; m += 2) tile<4, 2>(p, n, m);
      if (m < m1) tile<4, 1>(p, n, m);
    }
    for (; n < n_end; ++n) {
      int m = m0;
      for (; m + 2 <= m1; m += 2) tile<1, 2>(p, n, m);
      if (m < m1) tile<1, 1>(p, n, m);
    }
  }
}

}  // namespace dcllm
