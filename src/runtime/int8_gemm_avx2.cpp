// AVX2 kernel for int8_gemm, products summed exactly in int32. Compiled with -mavx2 -mfma;
// chosen at run time.
//
// Two inner loops, because Zen 3 and Skylake run vpsignb, vpabsb, vpmaddubsw and vpmaddwd on the
// same two ports. Generation (1-3 tokens) reads each weight once, straight from memory, row after
// row: 4 port-bound instructions per 32 products (abs, sign, maddubs, madd). A batch widens a
// tile of weight rows and its tokens to int16 once, in cache, and reuses them: 2 (madd, madd).
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "runtime/int8_gemm.h"
#include "runtime/int8_gemm_epilogue.h"

namespace dcllm {
namespace {

// vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16 with saturation.
// Feeding it |w| (unsigned, 0..128) and x*sign(w) (signed, -127..127 since x != -128) gives
// the same products as w*x, and a pair sums to at most 2*128*127 = 32512 < 32767: it never
// saturates. vpmaddwd against ones then widens the pairs to int32 sums of four, exactly.
inline __m256i dot32(__m256i acc, __m256i w_abs, __m256i w, __m256i x, __m256i ones16) {
  const __m256i x_signed = _mm256_sign_epi8(x, w);  // x * sign(w), 0 where w == 0
  const __m256i pairs = _mm256_maddubs_epi16(w_abs, x_signed);
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones16));
}

inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// The horizontal sums of four vectors, one per lane.
inline __m128i reduce4(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

int32_t dot_scalar(const int8_t* x, const int8_t* w, int begin, int end) {
  int32_t s = 0;
  for (int k = begin; k < end; ++k) s += int32_t{x[k]} * int32_t{w[k]};
  return s;
}

// Rows are contiguous, so rows [n_begin, n_end) are one sequential stream; asking for the line
// this far ahead keeps more of it in flight than the hardware prefetcher alone (measured: ~10%
// more bandwidth from RAM, nothing lost when the weights are in cache).
constexpr int kPrefetchBytes = 1024;

// Adds the products over the whole 32-byte steps of [k, k_end) to acc; returns where they stop.
template <int T>
inline int steps32(const int8_t* wr, const int8_t* const* xr, int k, int k_end, __m256i* acc) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (; k + 32 <= k_end; k += 32) {
    _mm_prefetch(reinterpret_cast<const char*>(wr + k + kPrefetchBytes), _MM_HINT_T0);
    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + k));
    const __m256i wa = _mm256_abs_epi8(wv);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr[t] + k));
      acc[t] = dot32(acc[t], wa, wv, xv, ones16);
    }
  }
  return k;
}

// T tokens (1..3) against rows [n_begin, n_end), one row at a time: each weight byte is loaded
// once for all T tokens.
template <int T>
void few_tokens(const GemmProblem& p, int n_begin, int n_end) {
  const int8_t* xr[T];
  for (int t = 0; t < T; ++t) xr[t] = p.x.data + static_cast<size_t>(t) * p.K;
  // Groups made of whole steps go four at a time: their sums reduce together and their scales
  // load as one vector, which halves the cost of small groups.
  const int quads = p.grouped && p.G % 32 == 0 ? p.K / p.G / 4 : 0;
  if (!p.grouped) {  // the common case, kept free of the group bookkeeping
    for (int n = n_begin; n < n_end; ++n) {
      const int8_t* wr = p.w.values + static_cast<size_t>(n) * p.K;
      __m256i acc[T];
      for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
      const int k = steps32<T>(wr, xr, 0, p.K, acc);
      for (int t = 0; t < T; ++t)
        store_dots<1>(p, n, t, _mm_cvtsi32_si128(hsum(acc[t]) + dot_scalar(xr[t], wr, k, p.K)));
    }
    return;
  }
  for (int n = n_begin; n < n_end; ++n) {
    const int8_t* wr = p.w.values + static_cast<size_t>(n) * p.K;
    const float* row_scales = p.grouped ? p.w.scales + static_cast<size_t>(n) * p.groups : nullptr;
    __m128 sums[T];
    int32_t dots[T] = {};
    for (int t = 0; t < T; ++t) sums[t] = _mm_setzero_ps();
    for (int q = 0; q < quads; ++q) {
      __m256i acc[4][T];
      // Unrolled, or GCC keeps the accumulators in memory.
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        for (int t = 0; t < T; ++t) acc[j][t] = _mm256_setzero_si256();
        const int k = (4 * q + j) * p.G;
        steps32<T>(wr, xr, k, k + p.G, acc[j]);
      }
      const __m128 scales = _mm_loadu_ps(row_scales + 4 * q);
      for (int t = 0; t < T; ++t) {
        const __m128i d = reduce4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
        const __m128 prod = rounded(_mm_mul_ps(_mm_cvtepi32_ps(d), scales));
        // One group at a time, in order, as the generic kernel adds them.
        sums[t] = _mm_add_ss(sums[t], prod);
        sums[t] = _mm_add_ss(sums[t], _mm_shuffle_ps(prod, prod, 1));
        sums[t] = _mm_add_ss(sums[t], _mm_movehl_ps(prod, prod));
        sums[t] = _mm_add_ss(sums[t], _mm_shuffle_ps(prod, prod, 3));
      }
    }
    for (int g = 4 * quads; g < p.groups; ++g) {
      const int k_begin = g * p.G;
      const int k_end = std::min(p.K, k_begin + p.G);
      __m256i acc[T];
      for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
      const int k = steps32<T>(wr, xr, k_begin, k_end, acc);
      for (int t = 0; t < T; ++t) {
        dots[t] = hsum(acc[t]) + dot_scalar(xr[t], wr, k, k_end);
        if (p.grouped) {
          sums[t] = add_group(sums[t], _mm_cvtsi32_si128(dots[t]), _mm_set_ss(row_scales[g]));
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      if (p.grouped) {
        store_group_sums<1>(p, n, t, sums[t]);
      } else {
        store_dots<1>(p, n, t, _mm_cvtsi32_si128(dots[t]));
      }
    }
  }
}

// Activation blocks of S whole 32-byte steps (B = 32 * S), T tokens (1..3): the quads of four
// whole blocks, straight-line so that the 4 x T accumulators stay in registers. Returns the
// blocks it did (4 * quads); the caller's general loop does the rest into the same lanes.
template <int T, int S>
inline int whole_quads(const GemmProblem& p, const int8_t* wr, const int8_t* const* xr,
                       const float* const* sx, __m128 (&lanes)[T]) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  const int quads = p.K / (128 * S);
  for (int q = 0; q < quads; ++q) {
    const int8_t* wq = wr + 128 * S * q;
    _mm_prefetch(reinterpret_cast<const char*>(wq + kPrefetchBytes), _MM_HINT_T0);
    if constexpr (S > 1)
      _mm_prefetch(reinterpret_cast<const char*>(wq + kPrefetchBytes + 64), _MM_HINT_T0);
    __m256i acc[T][4];
    for (int j = 0; j < 4; ++j) {
      for (int st = 0; st < S; ++st) {
        const int off = 32 * (S * j + st);
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq + off));
        const __m256i wa = _mm256_abs_epi8(wv);
        for (int t = 0; t < T; ++t) {
          const __m256i xv = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(xr[t] + static_cast<size_t>(128 * S * q + off)));
          const __m256i d =
              _mm256_madd_epi16(_mm256_maddubs_epi16(wa, _mm256_sign_epi8(xv, wv)), ones16);
          acc[t][j] = st == 0 ? d : _mm256_add_epi32(acc[t][j], d);
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      const __m128i d = reduce4(acc[t][0], acc[t][1], acc[t][2], acc[t][3]);
      const __m128 scales = _mm_loadu_ps(sx[t] + 4 * q);
      lanes[t] = _mm_add_ps(lanes[t], rounded(_mm_mul_ps(_mm_cvtepi32_ps(d), scales)));
    }
  }
  return 4 * quads;
}

// Activation blocks, T tokens (1..3) against rows [n_begin, n_end): four blocks at a time, their
// exact sums reduced together, converted and multiplied by the four block scales in one go, and
// added into the contract's four lanes (block j of a quad goes to lane j).
template <int T>
void few_tokens_blocks(const GemmProblem& p, int n_begin, int n_end) {
  const int8_t* xr[T];
  const float* sx[T];
  for (int t = 0; t < T; ++t) {
    xr[t] = p.x.data + static_cast<size_t>(t) * p.K;
    sx[t] = p.x_block_scales(t);
  }
  const int quads = (p.blocks + 3) / 4;
  for (int n = n_begin; n < n_end; ++n) {
    const int8_t* wr = p.w.values + static_cast<size_t>(n) * p.K;
    __m128 lanes[T];
    for (int t = 0; t < T; ++t) lanes[t] = _mm_setzero_ps();
    int done = 0;  // blocks
    if (p.B == 32) {
      done = whole_quads<T, 1>(p, wr, xr, sx, lanes);
    } else if (p.B == 64) {
      done = whole_quads<T, 2>(p, wr, xr, sx, lanes);
    }
    for (int q = done / 4; q < quads; ++q) {
      const int in_quad = std::min(4, p.blocks - 4 * q);
      __m256i acc[4][T];
      int32_t rest[4][T] = {};
      bool any_rest = false;  // bytes past the blocks' whole 32-byte steps
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        for (int t = 0; t < T; ++t) acc[j][t] = _mm256_setzero_si256();
        if (j >= in_quad) continue;
        const int k_begin = (4 * q + j) * p.B;
        const int k_end = std::min(p.K, k_begin + p.B);
        const int k = steps32<T>(wr, xr, k_begin, k_end, acc[j]);
        if (k < k_end) {
          any_rest = true;
          for (int t = 0; t < T; ++t) rest[j][t] = dot_scalar(xr[t], wr, k, k_end);
        }
      }
      for (int t = 0; t < T; ++t) {
        __m128i d = reduce4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
        if (any_rest)
          d = _mm_add_epi32(d, _mm_setr_epi32(rest[0][t], rest[1][t], rest[2][t], rest[3][t]));
        // A short last quad multiplies its missing lanes by 0: adding +0 leaves a lane as it
        // is (a lane is never -0), so these lanes match the reference, which skips them.
        __m128 scales;
        if (in_quad == 4) {
          scales = _mm_loadu_ps(sx[t] + 4 * q);
        } else {
          float s4[4] = {};
          for (int j = 0; j < in_quad; ++j) s4[j] = sx[t][4 * q + j];
          scales = _mm_loadu_ps(s4);
        }
        lanes[t] = _mm_add_ps(lanes[t], rounded(_mm_mul_ps(_mm_cvtepi32_ps(d), scales)));
      }
    }
    for (int t = 0; t < T; ++t) store_block_sum(p, n, t, lanes[t]);
  }
}

// Shorter than this, a batch is not worth widening (every weight would be widened for at most
// a few products).
constexpr int kMinWidenTokens = 4;
constexpr int kTokenBlock = 32;

void widen(const int8_t* src, size_t n, int16_t* dst) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_cvtepi8_epi16(b));
  }
  for (; i < n; ++i) dst[i] = src[i];
}

// The batch tile: R rows of w16 (R x K, weight rows n..) against T rows of x16 (tokens m..),
// both widened to int16. vpmaddwd sums pairs of int16 products exactly in int32 (|a*b + c*d| <=
// 2*128*127). Groups, exact int32 group sums and the epilogue are those of few_tokens().
// The exact int32 sums over [k_begin, k_end) of R rows x T tokens, one per lane of the result
// (R == 1: every lane holds the row's).
template <int R, int T>
inline void dots16(const int16_t* const* wr, const int16_t* const* xr, int k_begin, int k_end,
                   __m128i (&dots)[T]) {
  __m256i acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_si256();
  int k = k_begin;
  for (; k + 16 <= k_end; k += 16) {
    __m256i xv[T];
    for (int t = 0; t < T; ++t)
      xv[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr[t] + k));
    for (int r = 0; r < R; ++r) {
      __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr[r] + k));
      // Held in a register: left to itself GCC reloads it from memory for every token, which
      // makes the loop wait on loads rather than on vpmaddwd.
      __asm__("" : "+x"(wv));
      for (int t = 0; t < T; ++t)
        acc[r][t] = _mm256_add_epi32(acc[r][t], _mm256_madd_epi16(wv, xv[t]));
    }
  }
  for (; k < k_end; ++k) {  // a short tail goes into lane 0
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t)
        acc[r][t] = _mm256_add_epi32(
            acc[r][t], _mm256_setr_epi32(int32_t{xr[t][k]} * wr[r][k], 0, 0, 0, 0, 0, 0, 0));
  }
  for (int t = 0; t < T; ++t) {
    if constexpr (R == 4) {
      dots[t] = reduce4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
    } else {
      dots[t] = reduce4(acc[0][t], acc[0][t], acc[0][t], acc[0][t]);
    }
  }
}

// tile16 with activation blocks: lanes hold rows; block b adds into the contract's lane b % 4.
template <int R, int T>
void tile16_blocks(const GemmProblem& p, const int16_t* const* wr, const int16_t* const* xr, int n,
                   int m) {
  __m128 lanes[T][4];
  for (int t = 0; t < T; ++t)
    for (int j = 0; j < 4; ++j) lanes[t][j] = _mm_setzero_ps();
  for (int b = 0; b < p.blocks; ++b) {
    const int k_begin = b * p.B;
    __m128i dots[T];
    dots16<R, T>(wr, xr, k_begin, std::min(p.K, k_begin + p.B), dots);
    for (int t = 0; t < T; ++t) {
      const __m128 s = _mm_set1_ps(p.x_block_scales(m + t)[b]);
      __m128& l = lanes[t][b % 4];
      l = _mm_add_ps(l, rounded(_mm_mul_ps(_mm_cvtepi32_ps(dots[t]), s)));
    }
  }
  for (int t = 0; t < T; ++t) store_block_lanes<R>(p, n, m + t, lanes[t]);
}

template <int R, int T>
void tile16(const GemmProblem& p, const int16_t* w16, const int16_t* x16, int n, int m) {
  const size_t K = static_cast<size_t>(p.K);
  const int16_t* wr[R];
  const int16_t* xr[T];
  for (int r = 0; r < R; ++r) wr[r] = w16 + r * K;
  for (int t = 0; t < T; ++t) xr[t] = x16 + t * K;
  if (p.act_blocks) return tile16_blocks<R, T>(p, wr, xr, n, m);
  __m128 sums[T];
  __m128i dots[T];
  for (int t = 0; t < T; ++t) sums[t] = _mm_setzero_ps(), dots[t] = _mm_setzero_si128();
  for (int g = 0; g < p.groups; ++g) {
    const int k_begin = g * p.G;
    dots16<R, T>(wr, xr, k_begin, std::min(p.K, k_begin + p.G), dots);
    const __m128 scales = p.grouped ? group_scales<R>(p, n, g) : _mm_setzero_ps();
    for (int t = 0; t < T; ++t) {
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

// A batch over rows [n_begin, n_end): per block of tokens, widen the tokens once, then per tile
// of 4 rows widen the rows once (into L1) and run them against every token of the block.
void batch(const GemmProblem& p, int n_begin, int n_end) {
  const size_t K = static_cast<size_t>(p.K);
  // Per call, not cached: a batch does at least 4*64*K products per task, which dwarfs this.
  std::vector<int16_t> x16(std::min(p.x.rows, kTokenBlock) * K), w16(4 * K);
  for (int m0 = 0; m0 < p.x.rows; m0 += kTokenBlock) {
    const int m1 = std::min(p.x.rows, m0 + kTokenBlock);
    widen(p.x.data + static_cast<size_t>(m0) * K, static_cast<size_t>(m1 - m0) * K, x16.data());
    const auto x_at = [&](int m) { return x16.data() + static_cast<size_t>(m - m0) * K; };
    int n = n_begin;
    for (; n + 4 <= n_end; n += 4) {
      widen(p.w.values + static_cast<size_t>(n) * K, 4 * K, w16.data());
      int m = m0;
      for (; m + 2 <= m1; m += 2) tile16<4, 2>(p, w16.data(), x_at(m), n, m);
      if (m < m1) tile16<4, 1>(p, w16.data(), x_at(m), n, m);
    }
    for (; n < n_end; ++n) {
      widen(p.w.values + static_cast<size_t>(n) * K, K, w16.data());
      int m = m0;
      for (; m + 2 <= m1; m += 2) tile16<1, 2>(p, w16.data(), x_at(m), n, m);
      if (m < m1) tile16<1, 1>(p, w16.data(), x_at(m), n, m);
    }
  }
}

}  // namespace

void int8_gemm_block_avx2(const Int8Activations& x, const Int8MatrixView& w, const float* bias,
                          float* y, int n_begin, int n_end) {
  // Grouped weights with activation blocks: written by no compress setting; the reference runs
  // it, which keeps the results bit-identical by construction.
  if (x.block > 0 && w.scheme == QuantScheme::kGroup)
    return int8_gemm_block_generic(x, w, bias, y, n_begin, n_end);
  const GemmProblem p(x, w, bias, y);
  static_assert(kMinWidenTokens == 4, "few_tokens<T> covers T = 1..3");
  if (p.act_blocks) {
    switch (x.rows) {
      case 0:
        return;
      case 1:
        return few_tokens_blocks<1>(p, n_begin, n_end);
      case 2:
        return few_tokens_blocks<2>(p, n_begin, n_end);
      case 3:
        return few_tokens_blocks<3>(p, n_begin, n_end);
      default:
        return batch(p, n_begin, n_end);
    }
  }
  switch (x.rows) {
    case 0:
      return;
    case 1:
      return few_tokens<1>(p, n_begin, n_end);
    case 2:
      return few_tokens<2>(p, n_begin, n_end);
    case 3:
      return few_tokens<3>(p, n_begin, n_end);
    default:
      return batch(p, n_begin, n_end);
  }
}

}  // namespace dcllm
