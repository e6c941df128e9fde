// The standalone GPU decoder: every segment of a plan (many streams per launch) decoded by one
// warp into the output buffer, with a verdict per segment that matches the CPU decoder's.
#include <cuda_runtime.h>

#include "codec/cuda/rans_warp_decode.cuh"

namespace dcllm::gpu {
namespace {

// Writes each step's symbols to out (32 consecutive bytes per store instruction).
struct StoreSink {
  uint8_t* out;
  __device__ void step(uint32_t first, const ThreadLanes& l, int t) {
    if (l.active[0]) out[first + t] = l.sym[0];
    if (l.active[1]) out[first + t + kWarp] = l.sym[1];
  }
};

__global__ void rans_decode_kernel(KernelPlan p, const uint8_t* coded, uint8_t* out,
                                   uint32_t* verdicts) {
  extern __shared__ uint32_t smem[];
  const BlockTask task = p.tasks[blockIdx.x];
  const StreamDesc st = p.streams[p.segments[task.first_segment].stream];
  uint32_t* table = smem;
  load_table(p, st, table);
  __syncthreads();
  const uint32_t warp = threadIdx.x >> 5;
  if (warp >= task.segments) return;
  const uint32_t index = task.first_segment + warp;
  const SegmentDesc s = p.segments[index];
  uint32_t* ring = smem + p.table_entries + warp * rans_gpu::kRingU32;
  StoreSink sink{out + s.out};
  const bool ok = decode_segment(s, st, coded, table, ring, sink);
  if ((threadIdx.x & 31) == 0) verdicts[index] = ok ? 0u : 1u;
}

}  // namespace

int launch_rans_decode(const KernelPlan& p, const uint8_t* coded, uint8_t* out, uint32_t* verdicts,
                       StreamHandle stream) {
  if (p.n_tasks == 0) return cudaSuccess;
  const size_t shared =
      4 * (size_t{p.table_entries} + size_t(p.warps_per_block) * rans_gpu::kRingU32);
  cudaError_t err = cudaFuncSetAttribute(
      rans_decode_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
  if (err != cudaSuccess) return err;
  rans_decode_kernel<<<p.n_tasks, 32 * p.warps_per_block, shared, stream>>>(p, coded, out,
                                                                            verdicts);
  return cudaGetLastError();
}

}  // namespace dcllm::gpu
