// The per-thread pieces of the fused decode-GEMV and the INT8 GEMV epilogue, as __host__
// __device__ code: which row / scale group ("unit") a decoded byte belongs to, its product, and
// the CPU int8_gemm's float operations. The CPU test runs the same code as the kernels.
#pragma once

#include <cstdint>

#include "codec/cuda/rans_lane_step.h"

namespace dcllm::rans_gpu {

// Float operations without contraction: nvcc would fuse a*b+c into an FMA, the CPU reference
// rounds the product first.
DCLLM_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
DCLLM_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
DCLLM_HD float int_to_float(int32_t v) {
#if defined(__CUDA_ARCH__)
  return __int2float_rn(v);
#else
  return static_cast<float>(v);
#endif
}

// Per-tensor / per-channel: y = float(dot) * (sx * sw) [+ bias].
DCLLM_HD float gemv_finish_dot(int32_t dot, float sx, float sw, const float* bias) {
  const float out = mul_rn(int_to_float(dot), mul_rn(sx, sw));
  return bias ? add_rn(out, *bias) : out;
}
// Group scheme: sum = 0; sum += float(dot_g) * sw_g in group order; y = sx * sum [+ bias].
DCLLM_HD float gemv_add_group(float sum, int32_t dot, float sw) {
  return add_rn(sum, mul_rn(int_to_float(dot), sw));
}
DCLLM_HD float gemv_finish_groups(float sum, float sx, const float* bias) {
  const float out = mul_rn(sx, sum);
  return bias ? add_rn(out, *bias) : out;
}

// A unit: the bytes of one row (or of one scale group of a row) of the row-major matrix, whose
// products are summed exactly in int32 and added into acc[index] at its end.
struct GemvUnit {
  int64_t index;
  uint64_t start, end;  // flattened byte positions [start, end)
  uint64_t row_base;    // flattened position of the row's first byte
};

// The unit holding flattened position pos of a matrix with `cols` columns, groups of `group`
// columns (cols when not grouped) and `groups` groups per row.
DCLLM_HD GemvUnit gemv_unit_at(uint64_t pos, int64_t cols, int64_t group, int64_t groups) {
  const auto c = static_cast<uint64_t>(cols), g_len = static_cast<uint64_t>(group);
  const uint64_t row = pos / c;
  GemvUnit u;
  u.row_base = row * c;
  const uint64_t g = (pos - u.row_base) / g_len;
  u.index = static_cast<int64_t>(row) * groups + static_cast<int64_t>(g);
  u.start = u.row_base + g * g_len;
  const uint64_t end_col = (g + 1) * g_len;
  u.end = u.row_base + (end_col < c ? end_col : c);
  return u;
}

// The short path: a step's bytes [base, hi) all lie in unit u (units are >= 64 bytes in
// practice, so most steps take it).
DCLLM_HD bool step_inside_unit(const GemvUnit& u, uint64_t hi) {
  return hi < u.end;
}

// Lane k's product when its byte (at flattened position base + t + 32k) is decoded and in u.
DCLLM_HD int32_t lane_product(const ThreadLanes& l, int k, uint64_t base, int t, const GemvUnit& u,
                              const int8_t* x) {
  const uint64_t pos = base + static_cast<uint64_t>(t + kWarp * k);
  if (!l.active[k] || pos < u.start || pos >= u.end) return 0;
  return int32_t{static_cast<int8_t>(l.sym[k])} * int32_t{x[pos - u.row_base]};
}

// The short path's products: no range checks (step_inside_unit held).
DCLLM_HD int32_t lane_products_inside(const ThreadLanes& l, uint64_t base, int t, const GemvUnit& u,
                                      const int8_t* x) {
  const int64_t col = static_cast<int64_t>(base - u.row_base) + t;
  int32_t acc = 0;
  if (l.active[0]) acc += int32_t{static_cast<int8_t>(l.sym[0])} * int32_t{x[col]};
  if (l.active[1]) acc += int32_t{static_cast<int8_t>(l.sym[1])} * int32_t{x[col + kWarp]};
  return acc;
}

}  // namespace dcllm::rans_gpu
