// Float32 matrix products for linear layers: Y = X·Wᵀ (+ b) over a batch of token rows, with
// W stored as [out, in] rows. One kernel serves a single token (generation) and a prompt batch.
#pragma once

#include <cstddef>

namespace dcllm {

// y[r*out + o] = sum_i x[r*in + i] * w[o*in + i] + (bias ? bias[o] : 0), r < rows, o < out.
// Each output's sum runs in the same order whatever `rows` and `threads` are, so a prompt
// processed as one batch gives bit-identical results to the same tokens fed one by one.
void matmul_f32(const float* x, size_t rows, size_t in, const float* w, const float* bias,
                size_t out, float* y, unsigned threads);

// sum_i a[i] * b[i], vectorized (attention scores); same lane order as matmul_f32.
float dot_f32(const float* a, const float* b, size_t n);

// The kernels behind it, over output rows [o_begin, o_end): portable and AVX2+FMA. Exposed for
// tests that check the two agree.
void matmul_f32_block_generic(const float* x, size_t rows, size_t in, const float* w,
                              const float* bias, size_t out, size_t o_begin, size_t o_end,
                              float* y);
void matmul_f32_block_avx2(const float* x, size_t rows, size_t in, const float* w,
                           const float* bias, size_t out, size_t o_begin, size_t o_end, float* y);
bool matmul_f32_avx2_available();
float dot_f32_generic(const float* a, const float* b, size_t n);
float dot_f32_avx2(const float* a, const float* b, size_t n);

}  // namespace dcllm
