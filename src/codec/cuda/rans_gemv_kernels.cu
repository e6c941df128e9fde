// INT8 GEMV kernels (batch 1): the fused decode-GEMV (rANS segments decoded in registers, never
// stored) and the plain GEMV over uncompressed weights. Both end in the CPU int8_gemm's float
// epilogue (gemv_step.h: __fmul_rn/__fadd_rn, so nvcc cannot contract it into FMAs).
#include <cuda_runtime.h>

#include "codec/cuda/gemv_step.h"
#include "codec/cuda/rans_warp_decode.cuh"

namespace dcllm::gpu {
namespace {

using rans_gpu::GemvUnit;

__device__ __forceinline__ float finish_dot(const GemvArgs& a, int64_t n, int32_t dot) {
  const float sw = a.scheme == kGemvPerChannel ? a.scales[n] : a.scales[0];
  return rans_gpu::gemv_finish_dot(dot, a.x_scale, sw, a.bias ? a.bias + n : nullptr);
}
__device__ __forceinline__ float finish_groups(const GemvArgs& a, int64_t n, float sum) {
  return rans_gpu::gemv_finish_groups(sum, a.x_scale, a.bias ? a.bias + n : nullptr);
}

// The fused kernel's sink: adds w * x for each decoded byte into the thread's int32 sum for the
// current unit (a row, or a scale group of a row); at the unit's end the warp's sum goes into
// acc[unit] with one atomic (int32 addition is exact in any order). gemv_step.h has the logic.
struct GemvSink {
  const int8_t* x;
  int32_t* acc_out;
  int64_t cols, group, groups, n_units;
  uint64_t seg_begin;
  uint32_t len;
  GemvUnit unit;
  int32_t acc;

  __device__ void flush() {
    const auto sum = static_cast<int32_t>(__reduce_add_sync(kFullMask, static_cast<unsigned>(acc)));
    if ((threadIdx.x & 31) == 0 && sum != 0 && unit.index < n_units)
      atomicAdd(acc_out + unit.index, sum);
    acc = 0;
  }

  __device__ void step(uint32_t first, const ThreadLanes& l, int t) {
    const uint64_t base = seg_begin + first;
    const uint64_t hi = base + (len - first < 64 ? len - first : 64);
    if (rans_gpu::step_inside_unit(unit, hi)) {
      acc += rans_gpu::lane_products_inside(l, base, t, unit, x);
      return;
    }
    for (;;) {
      acc += rans_gpu::lane_product(l, 0, base, t, unit, x) +
             rans_gpu::lane_product(l, 1, base, t, unit, x);
      if (unit.end > hi) break;
      flush();
      const uint64_t next = unit.end;
      unit = rans_gpu::gemv_unit_at(next, cols, group, groups);
      if (next >= hi) break;
    }
  }
};

__global__ void fused_gemv_kernel(KernelPlan p, const uint8_t* coded, GemvArgs a,
                                  uint32_t* verdicts, bool x_in_shared) {
  extern __shared__ uint32_t smem[];
  const BlockTask task = p.tasks[blockIdx.x];
  const StreamDesc st = p.streams[p.segments[task.first_segment].stream];
  uint32_t* table = smem;
  load_table(p, st, table);
  const int8_t* x = a.x;
  if (x_in_shared) {
    int8_t* xs =
        reinterpret_cast<int8_t*>(smem + p.table_entries + p.warps_per_block * rans_gpu::kRingU32);
    for (int64_t i = threadIdx.x; i < a.cols; i += blockDim.x) xs[i] = a.x[i];
    x = xs;
  }
  __syncthreads();
  const uint32_t warp = threadIdx.x >> 5;
  if (warp >= task.segments) return;
  const uint32_t index = task.first_segment + warp;
  const SegmentDesc s = p.segments[index];
  uint32_t* ring = smem + p.table_entries + warp * rans_gpu::kRingU32;
  GemvSink sink{x,       a.acc,    a.cols,
                a.group, a.groups, a.rows * a.groups,
                s.out,   s.len,    rans_gpu::gemv_unit_at(s.out, a.cols, a.group, a.groups),
                0};
  const bool ok = decode_segment(s, st, coded, table, ring, sink);
  sink.flush();
  if ((threadIdx.x & 31) == 0) verdicts[index] = ok ? 0u : 1u;
}

__global__ void gemv_epilogue_kernel(GemvArgs a) {
  const int64_t n = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (n >= a.rows) return;
  if (a.scheme != kGemvGroup) {
    a.y[n] = finish_dot(a, n, a.acc[n]);
    return;
  }
  float sum = 0.0f;
  for (int64_t g = 0; g < a.groups; ++g)
    sum = rans_gpu::gemv_add_group(sum, a.acc[n * a.groups + g], a.scales[n * a.groups + g]);
  a.y[n] = finish_groups(a, n, sum);
}

constexpr int kGemvWarps = 8;  // rows per block of the plain GEMV

// One warp per row. With 16-byte aligned rows, 16 weights per load and four dp4a.
__global__ void int8_gemv_kernel(const int8_t* w, GemvArgs a, bool vectorized) {
  const int t = static_cast<int>(threadIdx.x & 31);
  const int64_t n = int64_t{blockIdx.x} * kGemvWarps + (threadIdx.x >> 5);
  if (n >= a.rows) return;
  const int8_t* row = w + n * a.cols;
  if (a.scheme != kGemvGroup) {
    int32_t acc = 0;
    if (vectorized) {
      const int4* r4 = reinterpret_cast<const int4*>(row);
      const int4* x4 = reinterpret_cast<const int4*>(a.x);
      const int64_t n4 = a.cols / 16;
#pragma unroll 4
      for (int64_t i = t; i < n4; i += 32) {
        const int4 wv = __ldcs(r4 + i);  // streamed once: keep it out of L1
        const int4 xv = __ldg(x4 + i);
        acc = __dp4a(wv.x, xv.x, acc);
        acc = __dp4a(wv.y, xv.y, acc);
        acc = __dp4a(wv.z, xv.z, acc);
        acc = __dp4a(wv.w, xv.w, acc);
      }
    } else {
      for (int64_t k = t; k < a.cols; k += 32) acc += int32_t{row[k]} * int32_t{a.x[k]};
    }
    acc = static_cast<int32_t>(__reduce_add_sync(kFullMask, static_cast<unsigned>(acc)));
    if (t == 0) a.y[n] = finish_dot(a, n, acc);
    return;
  }
  float sum = 0.0f;
  for (int64_t g = 0; g < a.groups; ++g) {
    const int64_t begin = g * a.group;
    const int64_t end = begin + a.group < a.cols ? begin + a.group : a.cols;
    int32_t acc = 0;
    for (int64_t k = begin + t; k < end; k += 32) acc += int32_t{row[k]} * int32_t{a.x[k]};
    acc = static_cast<int32_t>(__reduce_add_sync(kFullMask, static_cast<unsigned>(acc)));
    sum = rans_gpu::gemv_add_group(sum, acc, a.scales[n * a.groups + g]);
  }
  if (t == 0) a.y[n] = finish_groups(a, n, sum);
}

}  // namespace

int launch_fused_gemv(const KernelPlan& p, const uint8_t* coded, const GemvArgs& a,
                      uint32_t* verdicts, StreamHandle stream) {
  cudaError_t err = cudaMemsetAsync(a.acc, 0, sizeof(int32_t) * a.rows * a.groups, stream);
  if (err != cudaSuccess) return err;
  if (p.n_tasks > 0) {
    const bool x_in_shared = a.cols <= kFusedSharedXMax;
    const size_t shared =
        4 * (size_t{p.table_entries} + size_t(p.warps_per_block) * rans_gpu::kRingU32) +
        (x_in_shared ? static_cast<size_t>(a.cols) : 0);
    err = cudaFuncSetAttribute(fused_gemv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(shared));
    if (err != cudaSuccess) return err;
    fused_gemv_kernel<<<p.n_tasks, 32 * p.warps_per_block, shared, stream>>>(p, coded, a, verdicts,
                                                                             x_in_shared);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
  }
  constexpr int kThreads = 256;
  const auto blocks = static_cast<unsigned>((a.rows + kThreads - 1) / kThreads);
  gemv_epilogue_kernel<<<blocks, kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

int launch_int8_gemv(const int8_t* w, const GemvArgs& a, StreamHandle stream) {
  const bool vectorized = a.cols % 16 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0 &&
                          reinterpret_cast<uintptr_t>(a.x) % 16 == 0;
  const auto blocks = static_cast<unsigned>((a.rows + kGemvWarps - 1) / kGemvWarps);
  int8_gemv_kernel<<<blocks, 32 * kGemvWarps, 0, stream>>>(w, a, vectorized);
  return cudaGetLastError();
}

}  // namespace dcllm::gpu
