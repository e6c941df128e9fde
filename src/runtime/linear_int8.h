// The W8A8 product of one linear layer: the float input is quantized to INT8 (per token, per
// batch or per block of a token), optionally after a per-channel input scale, and multiplied with
// INT8 weights in int32; or, with float activations, multiplied with the dequantized weights.
#pragma once

#include <cstddef>

#include "core/activation_scheme.h"
#include "runtime/int8_gemm.h"

namespace dcllm {

struct Int8LinearParams {
  Int8MatrixView weights;
  const float* bias = nullptr;         // [out] or null
  const float* input_scale = nullptr;  // [in]: x is multiplied by it first; or null
  ActivationQuant activations;         // how x is quantized (compression.aquant)
};

// y[rows, out] = quantize(x * input_scale) · Wᵀ * scales + bias. Scratch buffers are per thread,
// so layers may share the calling thread without allocating per token. With float activations
// (ActivationScheme::kFloat: weight-only INT8, a diagnostic of the weights' own error) the
// weights are dequantized into a per-thread buffer and multiplied by matmul_f32.
void linear_int8_forward(const Int8LinearParams& p, const float* x, size_t rows, float* y,
                         unsigned threads);

}  // namespace dcllm
