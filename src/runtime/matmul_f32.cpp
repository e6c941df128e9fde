// matmul_f32 dispatch: picks the AVX2 kernel when the CPU has it, splits the output rows into
// blocks for the threads, and stays on one thread when the product is too small to pay for them.
#include "runtime/matmul_f32.h"

#include <algorithm>

#include "core/cpu_features.h"
#include "core/parallel.h"

namespace dcllm {
namespace {

// Below this many multiply-adds, starting a thread costs more than it saves.
constexpr size_t kMinParallelWork = size_t{1} << 16;
constexpr size_t kRowsPerTask = 48;  // output rows per task: a multiple of the AVX2 tile's 3

using BlockKernel = void (*)(const float*, size_t, size_t, const float*, const float*, size_t,
                             size_t, size_t, float*);

BlockKernel pick_kernel() {
  return matmul_f32_avx2_available() ? matmul_f32_block_avx2 : matmul_f32_block_generic;
}

}  // namespace

bool matmul_f32_avx2_available() {
  static const bool ok = cpu_features().avx2 && __builtin_cpu_supports("fma");
  return ok;
}

void matmul_f32_block_generic(const float* x, size_t rows, size_t in, const float* w,
                              const float* bias, size_t out, size_t o_begin, size_t o_end,
                              float* y) {
  // Eight partial sums per output combined pairwise, the order the AVX2 kernel uses (it rounds
  // once per fused multiply-add, so the two agree closely but not to the bit).
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in;
    for (size_t o = o_begin; o < o_end; ++o) {
      const float* wo = w + o * in;
      float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      size_t i = 0;
      for (; i + 8 <= in; i += 8) {
        for (int l = 0; l < 8; ++l) lanes[l] += xr[i + l] * wo[i + l];
      }
      const float s4[4] = {lanes[0] + lanes[4], lanes[1] + lanes[5], lanes[2] + lanes[6],
                           lanes[3] + lanes[7]};
      const float s2[2] = {s4[0] + s4[2], s4[1] + s4[3]};
      float sum = s2[0] + s2[1];
      for (; i < in; ++i) sum += xr[i] * wo[i];
      y[r * out + o] = bias ? sum + bias[o] : sum;
    }
  }
}

float dot_f32_generic(const float* a, const float* b, size_t n) {
  // Eight independent partial sums, so the compiler can vectorize the reduction.
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) lanes[l] += a[i + l] * b[i + l];
  }
  float sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
              ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_f32(const float* a, const float* b, size_t n) {
  static const auto fn = matmul_f32_avx2_available() ? dot_f32_avx2 : dot_f32_generic;
  return fn(a, b, n);
}

void matmul_f32(const float* x, size_t rows, size_t in, const float* w, const float* bias,
                size_t out, float* y, unsigned threads) {
  static const BlockKernel kernel = pick_kernel();
  const size_t work = rows * in * out;
  const size_t tasks = (out + kRowsPerTask - 1) / kRowsPerTask;
  if (threads <= 1 || work < kMinParallelWork || tasks < 2) {
    kernel(x, rows, in, w, bias, out, 0, out, y);
    return;
  }
  parallel_for(tasks, threads, [&](size_t t) {
    const size_t begin = t * kRowsPerTask;
    kernel(x, rows, in, w, bias, out, begin, std::min(out, begin + kRowsPerTask), y);
  });
}

}  // namespace dcllm
