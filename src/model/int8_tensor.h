// Int8Tensor: a weight matrix kept as the int8 values and scales a .dcllm stores, so the W8A8
// path computes on them directly instead of on a float copy.
#pragma once

#include <cstdint>
#include <vector>

#include "dcllm/container.h"

namespace dcllm {

// Real value of element [r][c] = values[r * cols + c] * scale(r, c), scale as QuantParams says
// (per tensor, per row, or per `group` consecutive elements of a row).
struct Int8Tensor {
  std::vector<int8_t> values;
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
