// W8A8 matrix products: int8 activations x int8 weights, multiplied and summed exactly in int32,
// then scaled to float. The compute of the INT8 inference path; activation_quant.h feeds it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dcllm/int8_matrix.h"
#include "dcllm/status.h"
#include "model/int8_tensor.h"  // kInt8GemmMaxCols

namespace dcllm {

// The weights are an Int8MatrixView (dcllm/int8_matrix.h): W[rows][cols] row-major in their
// natural layout, one row per output feature (N = rows, K = cols). There is deliberately no
// packed layout and no prepare step: a chunk decoded from a .dcllm file is used as it is,
// generation streams the rows in order (one sequential read, the fastest from RAM), and a batch
// widens each tile of rows into L1 itself, which costs ~1/M of the products.

// Quantized activations X[rows][cols] (rows = tokens), real value = data[m*cols + k] * scale,
// where scale = scales[per_tensor ? 0 : m] when block == 0, and for block B > 0 (one scale per B
// consecutive inputs of a token, the last block of a row possibly short)
// scales[m * blocks() + k / B]. Values must lie in [-127, 127] (what activation_quant.h
// produces): the SIMD kernels rely on it to stay exact, -128 is not allowed.
struct Int8Activations {
  const int8_t* data = nullptr;
  int rows = 0;  // M: tokens
  int cols = 0;  // K
  const float* scales = nullptr;
  bool per_tensor = false;  // block == 0 only
  int block = 0;            // B; 0 = one scale per token (or per batch)

  int blocks() const { return block > 0 ? (cols + block - 1) / block : 1; }
};

// Checks what int8_gemm assumes of the weights (non-null pointers, positive sizes, cols <=
// kInt8GemmMaxCols, group > 0 for kGroup). Call once when the weights are loaded; int8_gemm
// itself does not check, since it runs for every token.
Status validate_int8_weights(const Int8MatrixView& w);

// y[m*N + n] = float(dot) * (scale_x(m) * scale_w(n)) + bias[n], where dot is the exact int32
// sum_k x[m][k] * w[n][k]. For kGroup, sum = sum + float(dot_g) * scale_w(n, g) over the groups
// in order (exact int32 group sums, float from there on), then y = scale_x(m) * sum + bias[n].
// With activation blocks (x.block = B > 0) four float lanes l[0..3] start at 0 and each
// segment s of K, in order, does l[s % 4] = l[s % 4] + float(dot_s) * c_s, where dot_s is the
// exact int32 sum over the segment; then sum = (l[0] + l[1]) + (l[2] + l[3]). For per-tensor
// and per-channel weights the segments are the blocks, c_s = scale_x(m, s) and
// y = sum * scale_w(n) + bias[n]; for kGroup they are the pieces between consecutive group or
// block boundaries, c_s = scale_x(m, block) * scale_w(n, group) and y = sum + bias[n] (only the
// generic kernel runs this combination: the SIMD ones hand it to it). Four lanes, so that a
// SIMD kernel adds four blocks' products at once and the reference still fixes the order.
// bias may be null. x.cols must equal w.cols; y holds x.rows * w.rows floats. threads as in
// parallel_for (0 = all hardware threads); small products stay on the calling thread.
// Every kernel performs exactly these float operations (no fused multiply-add), so results are
// bit-identical across kernels, thread counts and batch sizes (a prompt as one batch = its
// tokens one by one). Kernels: generic (scalar reference), AVX2 (vpmaddubsw/vpmaddwd, never
// saturating), AVX-512 VNNI (vpdpbusd); details in each kernel's file. int8_gemm takes the best
// kernel the CPU has, except at 1-3 tokens, where AVX2 streams rows faster than the AVX-512
// tiles (measured, see int8_gemm.cpp).
void int8_gemm(const Int8Activations& x, const Int8MatrixView& w, const float* bias, float* y,
               unsigned threads);

// The kernels int8_gemm chooses from, best last. Exposed so tests and benchmarks can pin one.
enum class Int8Kernel { kGeneric, kAvx2, kAvx512Vnni };
const char* int8_kernel_name(Int8Kernel kernel);
bool int8_kernel_available(Int8Kernel kernel);
Int8Kernel int8_best_kernel();
// int8_gemm on one given kernel, which must be available.
void int8_gemm_with(Int8Kernel kernel, const Int8Activations& x, const Int8MatrixView& w,
                    const float* bias, float* y, unsigned threads);

// Kernel entry points: output features [n_begin, n_end) for every token. The generic one is
// the scalar reference the others are tested against.
void int8_gemm_block_generic(const Int8Activations& x, const Int8MatrixView& w, const float* bias,
                             float* y, int n_begin, int n_end);
void int8_gemm_block_avx2(const Int8Activations& x, const Int8MatrixView& w, const float* bias,
                          float* y, int n_begin, int n_end);
void int8_gemm_block_avx512vnni(const Int8Activations& x, const Int8MatrixView& w,
                                const float* bias, float* y, int n_begin, int n_end);

}  // namespace dcllm
