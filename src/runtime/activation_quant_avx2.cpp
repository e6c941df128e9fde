// AVX2 activation quantization, bit-identical to the scalar reference (max is exact; one float
// multiply, clamp and round-to-even per value in both). Compiled with -mavx2.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "runtime/activation_quant.h"

namespace dcllm {

float max_abs_finite_avx2(const float* x, int n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 inf = _mm256_set1_ps(INFINITY);
  __m256 m = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask);
    // NaN and inf compare false, so they contribute 0.
    m = _mm256_max_ps(m, _mm256_and_ps(a, _mm256_cmp_ps(a, inf, _CMP_LT_OQ)));
  }
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  float r = _mm_cvtss_f32(h);
  for (; i < n; ++i) {
    if (std::isfinite(x[i])) r = std::max(r, std::fabs(x[i]));
  }
  return r;
}

void quantize_row_avx2(const float* x, int n, float levels_per_unit, int8_t* q) {
  const __m256 scale = _mm256_set1_ps(levels_per_unit);
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  // packs works within 128-bit lanes; this puts the four 8-value groups back in order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  auto to_int = [&](const float* p) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(p), scale);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));  // NaN -> 0
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    return _mm256_cvtps_epi32(v);  // rounds to nearest even under the default MXCSR
  };
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = _mm256_packs_epi32(to_int(x + i), to_int(x + i + 8));
    const __m256i b = _mm256_packs_epi32(to_int(x + i + 16), to_int(x + i + 24));
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), bytes);
  }
  quantize_row_generic(x + i, n - i, levels_per_unit, q + i);
}

}  // namespace dcllm
