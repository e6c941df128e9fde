// The measurements behind `dcllm bench gpu` (docs/gpu.md): standalone decode throughput, the
// fused decode-GEMV against the plain INT8 GEMV, decode-then-GEMV and cuBLASLt, and coded vs
// raw host-to-device transfer. Times are CUDA-event medians; every result is checked exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dcllm/status.h"

namespace dcllm::gpu {

struct TimingOptions {
  int batches = 5;     // timed batches (median reported)
  int per_batch = 20;  // launches per batch (time per launch = batch time / per_batch)
};

struct DecodeBench {
  uint64_t raw_bytes = 0, coded_bytes = 0;
  uint32_t segment_bytes = 0;
  size_t streams = 0, segments = 0;
  int warps_per_block = 0;
  double ms = 0;    // per decode of all streams
  double gbps = 0;  // decoded bytes / s / 1e9
  bool exact = false;
};
// Encodes `raw` as `streams` streams (CPU encoder, all threads) and decodes them in one launch.
Expected<DecodeBench> bench_decode(std::span<const uint8_t> raw, uint32_t segment_bytes,
                                   size_t streams, const TimingOptions& t);

struct GemvProblem {
  int64_t rows = 0, cols = 0;
  std::span<const int8_t> weights;  // rows * cols, row-major
  std::span<const float> scales;    // per channel: rows
  std::span<const int8_t> x;        // cols, in [-127, 127]
  float x_scale = 1.0f;
};
struct GemvBench {
  uint64_t coded_bytes = 0;
  uint32_t segment_bytes = 0;
  size_t streams = 0, segments = 0;
  double plain_us = 0, fused_us = 0, decode_then_gemv_us = 0;
  std::optional<double> cublaslt_us;  // int8 x int8 -> int32, no epilogue
  std::string cublaslt_error;
  bool fused_matches_plain = false;  // bitwise equal outputs
  bool decoded_exact = false;        // decode-then-GEMV's decoded weights equal the raw ones
  std::vector<float> y_plain, y_fused;
};
// The matrix coded as streams of whole rows (at most `stream_bytes` raw bytes each, as .dcllm
// chunks) with `segment_bytes` segments.
Expected<GemvBench> bench_gemv(const GemvProblem& p, uint32_t segment_bytes, uint64_t stream_bytes,
                               const TimingOptions& t);

struct TransferBench {
  uint64_t raw_bytes = 0, coded_bytes = 0;
  uint64_t chunk_bytes = 0;
  size_t chunks = 0;
  double raw_ms = 0;        // pinned raw INT8 -> device
  double coded_ms = 0;      // pinned coded chunks -> device
  double decode_ms = 0;     // decoding them on the device
  double pipelined_ms = 0;  // chunk k+1 copied while chunk k decodes (two streams)
  bool exact = false;
};
Expected<TransferBench> bench_transfer(std::span<const uint8_t> raw, uint64_t chunk_bytes,
                                       uint32_t segment_bytes, const TimingOptions& t);

}  // namespace dcllm::gpu
