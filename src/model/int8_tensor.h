// Int8Tensor: a weight matrix kept as the int8 values and scales a .dcllm stores, so the W8A8
// path computes on them directly instead of on a float copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dcllm/container.h"
#include "dcllm/int8_matrix.h"

namespace dcllm {

// The largest K (columns) whose int32 sums cannot overflow in the INT8 GEMM: every product is at
// most 128*127 in size. Here, beside the matrix type, so a reader can refuse a matrix the
// kernels cannot run without depending on the runtime.
inline constexpr int kInt8GemmMaxCols = 131072;

// Where an INT8 tensor's bytes are when they were not decoded at load (the compressed and stream
// tiers, docs/runtime.md): its chunks as the container indexes them and, for the compressed
// tier, their stored (coded) bytes copied into RAM. The runtime decodes them just before use.
struct Int8StoredChunks {
  std::string file;    // the .dcllm they come from
  std::string tensor;  // the tensor's name, for messages
  std::vector<ChunkInfo> chunks;
  // Compressed tier: every chunk's stored bytes back to back in chunk order, chunk k at
  // bytes[at[k]]. Empty for the stream tier, which reads them from `file` on every use.
  std::vector<uint8_t> bytes;
  std::vector<size_t> at;

  bool in_memory() const { return !chunks.empty() && !bytes.empty(); }
};

// A model's INT8 weight: an Int8Matrix whose values are either in memory or, for a tensor kept
// coded (compressed or stream tier), still in its .dcllm chunks (`stored`; values then empty,
// layout and scales set).
struct Int8Tensor : Int8Matrix {
  std::shared_ptr<const Int8StoredChunks> stored;
  // How the activations this weight multiplies are quantized (compression.aquant).
  bool per_tensor_activations = false;
};

}  // namespace dcllm
