// GPTQ rounding (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative
// Pre-trained Transformers", 2022) onto dcllm's INT8 grids: the same scales as round-to-nearest,
// but each column's rounding error is spread over the columns not yet rounded, weighted by the
// inverse of the input's Gram matrix, so the layer's output error (not the weights') is small.
#pragma once

#include <cstddef>
#include <span>

#include "dcllm/int8_matrix.h"
#include "dcllm/status.h"
#include "quant/weight_quant.h"

namespace dcllm {

struct GptqOptions {
  // Added to the Gram matrix's diagonal, as a share of its mean diagonal: keeps the inverse
  // well conditioned where calibration saw fewer tokens than channels or collinear channels.
  double damp = 0.01;
  unsigned threads = 2;
};

// w: row-major [rows, cols], the weights as they will be stored (scales already applied);
// gram: XᵀX [cols, cols] of the input those weights multiply, in the same (scaled) units.
// The scales are quantize_weights_int8's for `scheme` and `wopts` (max|w| / max_level per
// group, from the original weights); the values are rounded column by column in order, each
// column's error e_j = (w_j - q_j * scale) / R_jj moving the later columns by -e_j * R_jk, with
// R the upper Cholesky factor of (gram + damp)^-1. Channels the Gram matrix never saw (zero
// diagonal) pass no error on. kInvalidArgument for size mismatches; a weight or Gram entry
// that is not finite gives plain round-to-nearest.
Expected<Int8Matrix> quantize_weights_gptq(std::span<const float> w, size_t rows, size_t cols,
                                           const Int8Layout& scheme,
                                           const WeightQuantOptions& wopts,
                                           std::span<const float> gram, const GptqOptions& opts);

// The upper-triangular R with R^T R = (h + damp * mean(diag h) * I)^-1 for a symmetric positive
// semi-definite h [n, n] (zero diagonal entries are set to 1 first), row-major; exposed for tests.
// kInvalidArgument when h is not numerically positive definite after damping.
Expected<std::vector<double>> gptq_inverse_factor(std::span<const float> h, size_t n, double damp,
                                                  unsigned threads);

}  // namespace dcllm
