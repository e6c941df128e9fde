// Symmetric round-to-nearest INT8 quantization of a weight matrix (the paper's eq. 3) at the
// three granularities of --wquant: per tensor, per output channel (row), or groups along a row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/int8_matrix.h"
#include "dcllm/status.h"

namespace dcllm {

// --wquant: "per-tensor", "per-channel" or "group:N" parse to an Int8Layout with rows = cols = 0
// (parse_quant_scheme, dcllm/int8_matrix.h); the quantizer fills in the shape.

// How each scale group's step is chosen. The defaults are the paper's eq. 3.
struct WeightQuantOptions {
  // q in [-max_level, max_level], scale = max|w| / max_level over the group (1..127). Below 127
  // the step is coarser: fewer distinct symbols, fewer coded bits, more rounding error.
  int max_level = 127;
};

// Quantizes row-major w [rows, cols] into an Int8Matrix of `scheme`'s granularity (its rows and
// cols are ignored): in every scale group, scale = max|w| / 127 and
// q = clamp(round_half_even(w / scale), -127, 127), with quantize_int8_per_tensor's handling
// of all-zero groups (scale 1) and non-finite values (NaN -> 0, +-inf -> +-127).
// kInvalidArgument when w.size() != rows * cols or the scheme is malformed.
Expected<Int8Matrix> quantize_weights_int8(std::span<const float> w, size_t rows, size_t cols,
                                           const Int8Layout& scheme,
                                           const WeightQuantOptions& opts = {});

// The same into caller-owned buffers: q of rows * cols values, scales of the layout's
// scale_count(); `layout` has the shape.
Status quantize_weights_int8(std::span<const float> w, const Int8Layout& layout,
                             std::span<int8_t> q, std::span<float> scales,
                             const WeightQuantOptions& opts = {});

// out[r, j] = q[r, j] * scale of (r, j), for tests and float reference paths. kInvalidArgument
// when m's sizes do not agree with each other or with out.
Status dequantize_weights_int8(const Int8Matrix& m, std::span<float> out);
Expected<std::vector<float>> dequantize_weights_int8(const Int8Matrix& m);

}  // namespace dcllm
