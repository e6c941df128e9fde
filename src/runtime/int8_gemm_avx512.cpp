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

// R weight rows from n (4 or 1) x T tokens from m, 64 bytes a step, masked at the end. Group
// sums are reduced to exact int32 before any float operation, as in every kernel.
template <int R, int T>
DCLLM_VNNI void tile(const GemmProblem& p, int n, int m) {
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
void int8_gemm_block_avx512vnni(const Int8Activations& x, const Int8MatrixView& w, const float* bias,
                                float* y, int n_begin, int n_end) {
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
