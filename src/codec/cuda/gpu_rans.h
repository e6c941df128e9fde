// The GPU decoder's API (no CUDA headers): a plan (validated streams plus their descriptors in
// device memory), standalone decode, fused decode-GEMV and the plain INT8 GEMV it is compared to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "codec/cuda/gpu_plan.h"
#include "codec/cuda/gpu_runtime.h"
#include "dcllm/int8_matrix.h"
#include "dcllm/status.h"

namespace dcllm::gpu {

// A HostPlan with its descriptors, tables and per-segment verdicts in device memory. The device
// copy of the coded bytes is the caller's; it must hold the same bytes the plan was built from.
class RansPlan {
 public:
  // warps_per_block 0 picks auto_warps_per_block for device 0.
  static Expected<RansPlan> create(std::span<const uint8_t> coded,
                                   std::span<const StreamRef> streams, uint64_t out_size,
                                   int warps_per_block = 0);
  static Expected<RansPlan> upload(HostPlan host);

  const HostPlan& host() const { return host_; }
  const KernelPlan& kernel() const { return kernel_; }
  uint32_t* verdicts() const { return verdicts_.as<uint32_t>(); }
  // Waits for `stream`, reads the verdicts back: Ok or kCorrupt naming the first bad segment.
  Status check(StreamHandle stream) const;

 private:
  HostPlan host_;
  DeviceBuffer streams_, segments_, tasks_, tables_, verdicts_;
  KernelPlan kernel_;
};

// Decodes the plan's streams from d_coded into d_out (out_size bytes; bytes no stream covers
// are left alone). Asynchronous; call plan.check(stream) for the verdict.
Status decode_async(const RansPlan& plan, const uint8_t* d_coded, uint8_t* d_out,
                    StreamHandle stream);
// The same, waiting for the verdict.
Status decode(const RansPlan& plan, const uint8_t* d_coded, uint8_t* d_out, StreamHandle stream);

// INT8 weights in device memory: layout, scales (layout.scale_count() floats), optional bias.
struct GemvWeights {
  Int8Layout layout;
  const float* scales = nullptr;
  const float* bias = nullptr;
};

// The int32 scratch the fused GEMV needs: one entry per row and scale group.
size_t gemv_scratch_entries(const Int8Layout& layout);

// y = W x for one int8 activation vector (values in [-127, 127], scale x_scale) with the
// float operations of the CPU int8_gemm: bit-identical results. The fused kernel decodes the
// plan's streams (which must tile the matrix: out_size = rows * cols, every byte covered) and
// never writes the decoded weights. Asynchronous; check the plan's verdict after the fused one.
Status fused_gemv_async(const RansPlan& plan, const uint8_t* d_coded, const GemvWeights& w,
                        const int8_t* d_x, float x_scale, int32_t* d_scratch, float* d_y,
                        StreamHandle stream);
Status int8_gemv_async(const int8_t* d_w, const GemvWeights& w, const int8_t* d_x, float x_scale,
                       float* d_y, StreamHandle stream);

}  // namespace dcllm::gpu
