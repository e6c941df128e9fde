// The host half of GPU decoding (plain C++, built with or without CUDA): validates a set of coded
// streams with the CPU codec's own parser and lays out what the kernels read — per-stream decode
// tables, one descriptor per segment, and the segments grouped into thread blocks.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "codec/cuda/gpu_kernels.h"
#include "dcllm/status.h"

namespace dcllm::gpu {

// One coded stream inside a buffer of streams: bytes [offset, offset + size), decoding to
// output bytes [out_offset, out_offset + raw size).
struct StreamRef {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t out_offset = 0;
};

struct HostPlan {
  std::vector<StreamDesc> streams;           // the non-empty streams
  std::vector<uint32_t> stream_input_index;  // their index in the caller's list (messages)
  std::vector<SegmentDesc> segments;
  std::vector<uint32_t> segment_number;  // the segment's index within its stream (messages)
  std::vector<BlockTask> tasks;
  std::vector<uint32_t> tables;
  uint32_t table_entries = 0;
  int warps_per_block = 1;
  uint64_t out_size = 0;
  uint64_t covered = 0;  // output bytes the streams decode to (out_size when they tile it)

  // The view the kernels take; pointers filled by the caller (device or host copies).
  KernelPlan kernel_view(const StreamDesc* s, const SegmentDesc* g, const BlockTask* t,
                         const uint32_t* tables_ptr) const;
};

// Warps per block for `segments` segments on a device with `multiprocessors` SMs: up to 8 (one
// shared decode table per 8 segments), fewer when that would leave SMs idle.
int auto_warps_per_block(size_t segments, int multiprocessors);

// Validates every stream (rans::parse_stream: a stream the CPU decoder refuses is refused here
// with the same message), checks the streams lie inside `coded` and their outputs inside
// [0, out_size) without overlap, and builds the plan. warps_per_block in 1..32.
Expected<HostPlan> build_host_plan(std::span<const uint8_t> coded,
                                   std::span<const StreamRef> streams, uint64_t out_size,
                                   int warps_per_block);

// The plan's outcome from the kernel's per-segment verdicts (0 = valid): Ok, or kCorrupt naming
// the first bad stream and segment.
Status plan_verdict(const HostPlan& plan, std::span<const uint32_t> verdicts);

}  // namespace dcllm::gpu
