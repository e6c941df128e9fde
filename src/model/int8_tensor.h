// Int8Tensor: a weight matrix kept as the int8 values and scales a .dcllm stores, so the W8A8
// path computes on them directly instead of on a float copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/activation_scheme.h"
#include "dcllm/container.h"
#include "dcllm/int8_matrix.h"

namespace dcllm {

// The largest K (columns) whose int32 sums cannot overflow in the INT8 GEMM: every product is at
// most 128*127 in size. Here, beside the matrix type, so a reader can refuse a matrix the
// kernels cannot run without depending on the runtime.
inline constexpr int kInt8GemmMaxCols = 131072;

// Where one chunk of an INT8 tensor is kept while the model runs (docs/runtime.md). The
// runtime's plan placements (runtime/partial_compression_plan.h) map onto these:
// resident-raw -> kDecoded, resident-coded -> kStored, stream-coded and stream-raw -> kStreamed.
enum class ChunkHome : uint8_t {
  kDecoded,   // decoded at load; its rows are held in RAM and used in place
  kStored,    // its stored bytes copied into RAM at load; decoded at each use (used in place
              // when the chunk is stored raw)
  kStreamed,  // nothing held: read from the file at each use (O_DIRECT), checked, decoded
};

// Where an INT8 tensor's bytes are when it is not simply decoded whole at load: its chunks as
// the container indexes them, each chunk's home, and the bytes held for the chunks that are
// held (decoded rows or stored bytes). The runtime serves each chunk from its home.
struct Int8StoredChunks {
  std::string file;    // the .dcllm they come from
  std::string tensor;  // the tensor's name, for messages
  std::vector<ChunkInfo> chunks;
  std::vector<ChunkHome> homes;  // one per chunk
  // Held chunks back to back in chunk order: chunk k's decoded rows (kDecoded) or stored bytes
  // (kStored) at bytes[at[k]]; a kStreamed chunk takes no bytes (its at[k] is unused).
  std::vector<uint8_t> bytes;
  std::vector<size_t> at;

  size_t count(ChunkHome h) const {
    size_t n = 0;
    for (ChunkHome x : homes) n += x == h;
    return n;
  }
  // Bytes held for chunk k: its decoded rows or stored bytes (empty when streamed).
  std::span<const uint8_t> held(size_t k) const {
    if (homes[k] == ChunkHome::kStreamed) return {};
    const uint64_t n = homes[k] == ChunkHome::kDecoded ? chunks[k].raw_size : chunks[k].stored_size;
    return std::span<const uint8_t>(bytes).subspan(at[k], static_cast<size_t>(n));
  }
};

// A model's INT8 weight: an Int8Matrix whose values are either in memory or, for a tensor kept
// coded (compressed or stream tier), still in its .dcllm chunks (`stored`; values then empty,
// layout and scales set).
struct Int8Tensor : Int8Matrix {
  std::shared_ptr<const Int8StoredChunks> stored;
  // How the activations this weight multiplies are quantized (compression.aquant).
  ActivationQuant activations;
};

}  // namespace dcllm
