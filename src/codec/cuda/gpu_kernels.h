// What the host hands the CUDA kernels (plain structs, no CUDA headers): the decode plan of a set
// of rANS streams, the INT8 GEMV arguments, and the launchers (they return a cudaError_t).
#pragma once

#include <cstdint>

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace dcllm::gpu {

using StreamHandle = CUstream_st*;

// How a segment's bytes are coded: a rANS segment, one byte repeated (mode 1 stream), or raw
// bytes (mode 2 stream). Constant and stored streams are cut into pieces of kPlainPieceBytes so
// they decode in parallel like segments.
enum SegmentKind : uint8_t { kSegRans = 0, kSegConstant = 1, kSegStored = 2 };
inline constexpr uint32_t kPlainPieceBytes = 64u << 10;

struct StreamDesc {
  uint32_t table_offset;  // first entry of the stream's decode table in KernelPlan::tables
  uint8_t kind;           // SegmentKind of all its segments
  uint8_t precision;
  uint8_t escapes;  // 1: esc_symbol stands for the next escape byte
  uint8_t esc_symbol;
};

struct SegmentDesc {
  uint64_t payload;  // byte offset in the coded buffer: lane states, raw bytes or constant byte
  uint64_t out;      // offset of the segment's first decoded byte in the output
  uint32_t len;      // decoded bytes
  uint32_t word_count;
  uint32_t esc_count;
  uint32_t stream;
};

// One thread block: up to warps_per_block consecutive segments of one stream (so the block
// loads one decode table into shared memory).
struct BlockTask {
  uint32_t first_segment;
  uint32_t segments;
};

struct KernelPlan {
  const StreamDesc* streams = nullptr;
  const SegmentDesc* segments = nullptr;
  const BlockTask* tasks = nullptr;
  const uint32_t* tables = nullptr;
  uint32_t n_tasks = 0;
  uint32_t n_segments = 0;
  uint32_t table_entries = 0;  // the largest 2^precision of the plan's rANS streams (0: none)
  int warps_per_block = 1;
};

// y[n] for an INT8 matrix W[rows][cols] (row-major, per dcllm/int8_matrix.h) times one int8
// activation vector x[cols] with scale x_scale, with the CPU int8_gemm's float operations.
enum GemvScheme : int { kGemvPerTensor = 0, kGemvPerChannel = 1, kGemvGroup = 2 };
struct GemvArgs {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t group = 0;   // elements per scale group (cols when not grouped)
  int64_t groups = 1;  // groups per row
  int scheme = kGemvPerChannel;
  const float* scales = nullptr;  // device
  const float* bias = nullptr;    // device, may be null
  const int8_t* x = nullptr;      // device, cols values in [-127, 127]
  float x_scale = 1.0f;
  int32_t* acc = nullptr;  // device scratch, rows * groups int32 (fused kernel only)
  float* y = nullptr;      // device, rows floats
};

// The largest K whose int32 sums cannot overflow: kInt8GemmMaxCols of model/int8_tensor.h (a
// later stage; tests/gpu checks the two agree).
inline constexpr int64_t kGemvMaxCols = 131072;

// Activations up to this many columns are staged in shared memory by the fused kernel.
inline constexpr int64_t kFusedSharedXMax = 32768;

// Decodes every segment of `plan` from `coded` into `out` and writes verdicts[segment] (0 valid,
// 1 corrupt). Asynchronous on `stream`.
int launch_rans_decode(const KernelPlan& plan, const uint8_t* coded, uint8_t* out,
                       uint32_t* verdicts, StreamHandle stream);

// Fused decode-GEMV: the plan's output is the matrix (row-major bytes, offset 0 = W[0][0]); each
// warp decodes a segment into registers and adds its products into args.acc (exact int32
// atomics), then an epilogue kernel writes args.y. Zeroes args.acc first. No decoded weight is
// written to global memory.
int launch_fused_gemv(const KernelPlan& plan, const uint8_t* coded, const GemvArgs& args,
                      uint32_t* verdicts, StreamHandle stream);

// Plain INT8 GEMV on uncompressed weights in global memory (one warp per row, dp4a).
int launch_int8_gemv(const int8_t* weights, const GemvArgs& args, StreamHandle stream);

}  // namespace dcllm::gpu
