// The fused decode→GEMM of one INT8 linear kept in row chunks (issue 11 §3, docs/runtime.md):
// the activations are quantized once, then each thread takes chunks in turn, gets a chunk's INT8
// rows (decoded into a small buffer of its own, or held in place) and multiplies them at once, so
// no decoded tensor is ever written whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "dcllm/status.h"
#include "runtime/int8_gemm.h"
#include "runtime/linear_int8.h"

namespace dcllm {

// Rows [first_row, first_row + row_count) of the weight matrix.
struct FusedChunk {
  int64_t first_row = 0;
  int64_t row_count = 0;
};

// Chunk k's INT8 rows (row_count × cols bytes, row-major): a pointer to rows held elsewhere, or
// to `scratch` after decoding them there (the calling thread's own buffer, 64-byte aligned and
// at least row_count × cols bytes). Called from several threads at once.
using FusedChunkRows = std::function<Expected<const int8_t*>(size_t k, std::span<int8_t> scratch)>;
// Called once per chunk after its product (also when getting its rows failed): where the rows
// came from may be reused (the stream tier releases the chunk's ring slot). May be empty.
using FusedChunkDone = std::function<void(size_t k)>;

// y[rows, out] = what linear_int8_forward(p, x, rows, y) computes, bit for bit: the same
// activation quantization, and per chunk int8_gemm on a view of its rows (scales and bias taken
// from the chunk's first row), which performs the same float operations per output. p.weights
// gives layout and scales; its values are not used. `chunks` must tile the rows in order.
// Chunks are spread over `threads` (parallel_for); each GEMM runs on its thread alone. A chunk
// whose rows cannot be had fails the call with that chunk's error (the first in chunk order),
// after every chunk has been done with.
Status fused_int8_forward(const Int8LinearParams& p, std::span<const FusedChunk> chunks,
                          const FusedChunkRows& rows_of, const FusedChunkDone& done, const float* x,
                          size_t rows, float* y, unsigned threads,
                          Int8Kernel kernel = int8_best_kernel());

}  // namespace dcllm
