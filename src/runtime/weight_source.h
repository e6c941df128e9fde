// WeightSource: what the forward pass asks to multiply with a linear's INT8 weights, whatever
// the tier or plan (docs/runtime.md): decoded values in place, or row chunks served from their
// homes (held decoded, held coded and decoded per use, or streamed from the file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "dcllm/status.h"
#include "model/int8_tensor.h"
#include "runtime/linear_int8.h"

namespace dcllm {

// INT8 weight bytes a source keeps in RAM.
struct WeightMemory {
  uint64_t decoded = 0;  // decoded values used in place (resident tensors, resident-raw chunks)
  uint64_t stored = 0;   // coded chunk bytes held in RAM (resident-coded chunks)
  uint64_t ring = 0;     // the stream tier's read ring
  uint64_t scratch = 0;  // the compute threads' chunk decode buffers (threads x largest chunk)
};

struct WeightSourceOptions {
  unsigned threads = 2;  // compute threads (the fused path spreads a linear's chunks over them)
  // Streamed chunks the reader thread may read ahead of the compute threads (ring slots, each
  // the largest streamed chunk's stored bytes rounded out to 4 KiB blocks; with read windows, at
  // least 64 items that point into the windows).
  size_t ring_slots = 16;
};

// The ring's memory for streamed chunks of at most `largest_stored` bytes (0 when none): its
// slots, or, when the reader has a window, three windows (read, waiting, being consumed) and
// slots of 64 bytes. `streamed_stored`: the stored bytes of all streamed chunks.
uint64_t stream_ring_bytes(uint64_t largest_stored, size_t ring_slots, uint64_t streamed_stored);
// The reader's window for ring slots of `slot_bytes` and streamed chunks of `streamed_stored`
// bytes in all: 1 MiB, but at most 1/8 of what is streamed; 0 (no window) below two slots.
size_t stream_read_window_bytes(size_t slot_bytes, uint64_t streamed_stored);

// Checks that an INT8 tensor kept in chunks (t.stored) has chunks that tile its rows in order,
// each with a home and, when held, its bytes; a raw chunk must store exactly its raw size.
Status check_stored_chunks(const Int8Tensor& t);

class WeightSource {
 public:
  // `tensors`: every INT8 linear's tensor, in the forward pass's execution order (one pass:
  // [proj_in], per layer q, k, v, o, [gate], up, down, [proj_out], classifier); a linear's id
  // is its index here. Tensors with decoded values are multiplied in place; a tensor kept in
  // chunks (Int8Tensor::stored) runs the fused decode→GEMM over its chunks, each from its home.
  // When any chunk is streamed, a reader thread reads the streamed chunks in that order, over
  // and over, into a ring, and checks each one's XXH3. All streamed chunks come from one file.
  static Expected<std::unique_ptr<WeightSource>> create(std::vector<const Int8Tensor*> tensors,
                                                        const WeightSourceOptions& options = {});
  virtual ~WeightSource() = default;

  // y[rows, out] = the W8A8 product of linear `id` (p.weights: its layout and scales; the values
  // come from here) with x[rows, in], bit-identical in every tier. A read, checksum or decode
  // failure comes back here, naming the file, tensor and chunk. Linears must be run in
  // execution order, one at a time; one that a pass skips (the classifier of a prompt's earlier
  // batches) is skipped over.
  virtual Status forward(size_t id, const Int8LinearParams& p, const float* x, size_t rows,
                         float* y, unsigned threads) = 0;
  // "resident" (every linear decoded), "compressed" (chunks held, some coded) or "stream" (some
  // chunk streamed).
  virtual std::string_view tier() const = 0;
  virtual WeightMemory memory() const = 0;
};

}  // namespace dcllm
