// The W8A8 product of one linear layer: the float input is quantized to INT8 (per token or per
// batch), optionally after a per-channel input scale, and multiplied with INT8 weights in int32.
#pragma once

#include <cstddef>

#include "runtime/int8_gemm.h"

namespace dcllm {

struct Int8LinearParams {
  Int8MatrixView weights;
  const float* bias = nullptr;          // [out] or null
  const float* input_scale = nullptr;   // [in]: x is multiplied by it first; or null
  bool per_tensor_activations = false;  // one activation scale per batch instead of per token
};

// y[rows, out] = quantize(x * input_scale) · Wᵀ * scales + bias. Scratch buffers are per thread,
// so layers may share the calling thread without allocating per token.
void linear_int8_forward(const Int8LinearParams& p, const float* x, size_t rows, float* y,
                         unsigned threads);

}  // namespace dcllm
