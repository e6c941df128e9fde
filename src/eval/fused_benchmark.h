// `dcllm bench fused`: the fused decode→GEMV (issue 11 §3) against decoding a matrix whole and
// then multiplying, and against the plain INT8 GEMV on decoded weights, on a .dcllm's matrices;
// weight MB/s of each, measured in one process, interleaved (docs/runtime.md "Fused path").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/container.h"
#include "dcllm/status.h"

namespace dcllm {

struct FusedBenchOptions {
  unsigned threads = 2;
  int64_t batch = 1;           // activation rows (1 = generation; more = a prompt batch)
  double seconds = 3.0;        // about this long in all, spread over the three methods
  ChunkSplit rechunk;          // non-zero: cut each matrix into these chunks (coded with
  std::string codec = "rans";  // `codec`) in memory instead of using the file's chunks
  size_t max_matrices = 0;     // 0 = every INT8 linear (not token_embd)
  // Called with ("load" | "check", matrices done, matrices) as matrices are read and checked,
  // then ("measure", rounds done, rounds expected) after each timed round; the measuring runs
  // for a time, so its total is an estimate from the rounds so far (equal to done at the end).
  std::function<void(std::string_view stage, int64_t done, int64_t total)> on_progress = {};
};

struct FusedMatrixResult {
  std::string name;
  int64_t rows = 0, cols = 0;
  size_t chunks = 0;
  uint64_t raw_bytes = 0, stored_bytes = 0;
  double fused_mbps = 0, decode_then_gemv_mbps = 0, int8_gemv_mbps = 0;
  bool identical = false;  // fused output bit-identical to the plain GEMV's
};

struct FusedBenchReport {
  std::string model;
  unsigned threads = 0;
  int64_t batch = 1;
  std::string chunking;  // "file" or the re-chunking ("64.0 KiB", "32 rows")
  uint64_t raw_bytes = 0, stored_bytes = 0;
  uint64_t largest_chunk_bytes = 0;  // raw: the per-thread decode buffer
  // Over all matrices: their weight bytes / the summed time of one product of each.
  double fused_mbps = 0, decode_then_gemv_mbps = 0, int8_gemv_mbps = 0;
  double rans_decode_mbps = 0;  // decoding every chunk on one thread, raw bytes/s
  bool identical = false;       // every matrix
  std::vector<FusedMatrixResult> matrices;
};

// Reads the model's INT8 linears (decoded once for the GEMV baseline; their chunks' stored
// bytes copied into RAM for the other two), then measures in rounds so a load change hits every
// method alike.
Expected<FusedBenchReport> run_fused_benchmark(const std::string& model,
                                               const FusedBenchOptions& options);

}  // namespace dcllm
