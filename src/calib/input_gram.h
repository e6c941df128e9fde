// InputGram: the Gram matrix XᵀX of one linear layer's input over the calibration tokens, the
// second-order statistic GPTQ-style rounding needs (quant/gptq.h). K x K floats per input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

class InputGram {
 public:
  InputGram() = default;
  explicit InputGram(size_t channels) : k_(channels), g_(channels * channels, 0.0f) {}

  size_t channels() const { return k_; }
  uint64_t tokens() const { return tokens_; }
  // G[i][j] = sum over observed tokens of x_i x_j, row-major K x K (symmetric).
  const std::vector<float>& data() const { return g_; }
  float at(size_t i, size_t j) const { return g_[i * k_ + j]; }

  // Adds XᵀX of x [rows, cols] (row-major, one row per token). Rows with a non-finite value are
  // skipped, as CalibrationStats skips such values. kInvalidArgument when cols != channels().
  Status observe(const float* x, size_t rows, size_t cols, unsigned threads);

 private:
  size_t k_ = 0;
  uint64_t tokens_ = 0;
  std::vector<float> g_;
  std::vector<float> xt_, window_;  // scratch: the finite rows transposed, one window's XᵀX
};

}  // namespace dcllm
