// Int8Tensor: a weight matrix kept as the int8 values and scales a .dcllm stores, so the W8A8
// path computes on them directly instead of on a float copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dcllm/container.h"

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

// Real value of element [r][c] = values[r * cols + c] * scale(r, c), scale as QuantParams says
// (per tensor, per row, or per `group` consecutive elements of a row).
struct Int8Tensor {
  std::vector<int8_t> values;  // empty when `stored` holds the weights instead
  // Set instead of `values` for a tensor kept coded (compressed or stream tier).
  std::shared_ptr<const Int8StoredChunks> stored;
  int64_t rows = 0;
  int64_t cols = 0;
  QuantScheme scheme = QuantScheme::kPerTensor;
  int64_t group = 0;  // > 0 exactly for kGroup
  std::vector<float> scales;
  // How the activations this weight multiplies are quantized (compression.aquant).
  bool per_tensor_activations = false;

  float scale_at(int64_t row, int64_t col) const;
  // Writes row `row` as floats (cols values).
  void dequantize_row(int64_t row, float* out) const;
  // The whole tensor as floats, rows * cols values.
  std::vector<float> dequantize() const;
};

}  // namespace dcllm
