// The float epilogue the SIMD int8_gemm kernels share: from exact int32 sums to outputs, with
// the generic kernel's float operations in its order, so every kernel gives bit-identical results.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "runtime/int8_gemm.h"

namespace dcllm {
// Internal linkage on purpose: each kernel file compiles these with its own ISA flags, and a
// shared inline definition could let the linker hand the AVX2 kernel an AVX-512 copy.
namespace {

struct GemmProblem {
  const Int8Activations& x;
  const Int8MatrixView& w;
  const float* bias;
  float* y;
  int K, N;
  int G, groups;  // without groups, one group of K
  bool grouped;
  int B, blocks;  // activation blocks; B = 0 and one block without them
  bool act_blocks;

  GemmProblem(const Int8Activations& x_, const Int8MatrixView& w_, const float* bias_, float* y_)
      : x(x_), w(w_), bias(bias_), y(y_), K(w_.cols), N(w_.rows) {
    grouped = w.scheme == QuantScheme::kGroup;
    G = grouped ? w.group : K;
    groups = static_cast<int>(w.groups_per_row());
    act_blocks = x.block > 0;
    B = x.block;
    blocks = x.blocks();
  }
  float x_scale(int m) const { return x.scales[x.per_tensor ? 0 : m]; }
  // Token m's block scales (act_blocks only).
  const float* x_block_scales(int m) const {
    return x.scales + static_cast<size_t>(m) * static_cast<size_t>(blocks);
  }
  float w_scale(int n) const {
    return w.scheme == QuantScheme::kPerChannel ? w.scales[n] : w.scales[0];
  }
};

// Returns v unchanged, but opaque to the optimiser: GCC fuses a multiply into a following add
// (even across statements) when the file is compiled with -mfma, and the generic kernel, built
// without FMA, rounds the product first. Every product that feeds an add passes through here.
template <typename V>
inline V rounded(V v) {
  __asm__("" : "+x"(v));
  return v;
}

// The scales of group g for rows [n, n+R), R = 4 or 1 (lane 0).
template <int R>
inline __m128 group_scales(const GemmProblem& p, int n, int g) {
  const float* s = p.w.scales + static_cast<size_t>(n) * p.groups + g;
  if constexpr (R == 4) {
    const size_t step = static_cast<size_t>(p.groups);
    return _mm_setr_ps(s[0], s[step], s[2 * step], s[3 * step]);
  } else {
    return _mm_set_ss(s[0]);
  }
}

// sum += float(dot_g) * scale_g: a multiply and an add (no fused multiply-add), as the generic
// kernel rounds.
inline __m128 add_group(__m128 sum, __m128i dots, __m128 scales) {
  return _mm_add_ps(sum, rounded(_mm_mul_ps(_mm_cvtepi32_ps(dots), scales)));
}

// Per-tensor / per-channel: y = float(dot) * (sx * sw) + bias for rows [n, n+R) of token m.
template <int R>
inline void store_dots(const GemmProblem& p, int n, int m, __m128i dots) {
  const float sx = p.x_scale(m);
  float* out = p.y + static_cast<size_t>(m) * p.N + n;
  const bool per_channel = p.w.scheme == QuantScheme::kPerChannel;
  if constexpr (R == 4) {
    const __m128 sw = per_channel ? _mm_loadu_ps(p.w.scales + n) : _mm_set1_ps(p.w.scales[0]);
    __m128 v = rounded(_mm_mul_ps(_mm_cvtepi32_ps(dots), _mm_mul_ps(_mm_set1_ps(sx), sw)));
    if (p.bias) v = _mm_add_ps(v, _mm_loadu_ps(p.bias + n));
    _mm_storeu_ps(out, v);
  } else {
    const float sw = per_channel ? p.w.scales[n] : p.w.scales[0];
    const float v = rounded(static_cast<float>(_mm_cvtsi128_si32(dots)) * (sx * sw));
    out[0] = p.bias ? v + p.bias[n] : v;
  }
}

// Activation blocks, lanes holding rows: l[j] is lane j of the contract (blocks j, j+4, ...) for
// rows [n, n+R). y = ((l0 + l1) + (l2 + l3)) * sw + bias.
template <int R>
inline void store_block_lanes(const GemmProblem& p, int n, int m, const __m128 (&l)[4]) {
  const __m128 sum = _mm_add_ps(_mm_add_ps(l[0], l[1]), _mm_add_ps(l[2], l[3]));
  float* out = p.y + static_cast<size_t>(m) * p.N + n;
  if constexpr (R == 4) {
    const __m128 sw = p.w.scheme == QuantScheme::kPerChannel ? _mm_loadu_ps(p.w.scales + n)
                                                             : _mm_set1_ps(p.w.scales[0]);
    __m128 v = rounded(_mm_mul_ps(sum, sw));
    if (p.bias) v = _mm_add_ps(v, _mm_loadu_ps(p.bias + n));
    _mm_storeu_ps(out, v);
  } else {
    const float v = rounded(_mm_cvtss_f32(sum) * p.w_scale(n));
    out[0] = p.bias ? v + p.bias[n] : v;
  }
}

// Activation blocks, lanes holding the four lanes of the contract for one row n:
// y = ((l0 + l1) + (l2 + l3)) * sw + bias.
inline void store_block_sum(const GemmProblem& p, int n, int m, __m128 l) {
  const __m128 pairs = _mm_add_ps(l, _mm_shuffle_ps(l, l, _MM_SHUFFLE(2, 3, 0, 1)));
  const float sum = _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehl_ps(pairs, pairs)));
  const float v = rounded(sum * p.w_scale(n));
  p.y[static_cast<size_t>(m) * p.N + n] = p.bias ? v + p.bias[n] : v;
}

// Group scheme: y = sx * sum + bias for rows [n, n+R) of token m.
template <int R>
inline void store_group_sums(const GemmProblem& p, int n, int m, __m128 sums) {
  const float sx = p.x_scale(m);
  float* out = p.y + static_cast<size_t>(m) * p.N + n;
  if constexpr (R == 4) {
    __m128 v = rounded(_mm_mul_ps(_mm_set1_ps(sx), sums));
    if (p.bias) v = _mm_add_ps(v, _mm_loadu_ps(p.bias + n));
    _mm_storeu_ps(out, v);
  } else {
    const float v = rounded(sx * _mm_cvtss_f32(sums));
    out[0] = p.bias ? v + p.bias[n] : v;
  }
}

}  // namespace
}  // namespace dcllm
