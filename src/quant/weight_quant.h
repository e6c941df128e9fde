// Symmetric round-to-nearest INT8 quantization of a weight matrix (the paper's eq. 3) at the
// three granularities of --wquant: per tensor, per output channel (row), or groups along a row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

// How many weights share one scale. Named apart from the container's QuantScheme (the stored
// form, which also has "none"); the two spell their granularities the same way, so a
// quantized matrix maps onto a container QuantParams one to one.
enum class WeightQuantGranularity { kPerTensor, kPerChannel, kGroup };

struct WeightQuantScheme {
  WeightQuantGranularity granularity = WeightQuantGranularity::kPerTensor;
  size_t group_size = 0;  // > 0 exactly when granularity == kGroup
};

// Group sizes above this are refused: they are typos, not designs (a group of a whole row is
// per-channel).
inline constexpr size_t kMaxQuantGroupSize = size_t{1} << 24;

// "per-tensor", "per-channel" or "group:N" (N a decimal integer in [1, kMaxQuantGroupSize]);
// kInvalidArgument saying what was expected for anything else.
Expected<WeightQuantScheme> parse_weight_quant_scheme(std::string_view text);
// The inverse of parse_weight_quant_scheme.
std::string weight_quant_scheme_name(const WeightQuantScheme& scheme);

// Scales a [rows, cols] matrix needs: 1 (per-tensor), rows (per-channel), or
// rows * ceil(cols / N) (group:N; the last group of a row may be shorter). Scales are stored
// row by row, groups in column order: scale index (r * groups_per_row + j / N).
Expected<size_t> weight_quant_scale_count(const WeightQuantScheme& scheme, size_t rows,
                                          size_t cols);

// An INT8 weight matrix: w[r, j] ~= q[r * cols + j] * scale of (r, j).
struct QuantizedMatrix {
  std::vector<int8_t> q;
  std::vector<float> scales;
  size_t rows = 0;
  size_t cols = 0;
  WeightQuantScheme scheme;
};

// Quantizes row-major w [rows, cols]: in every scale group, scale = max|w| / 127 and
// q = clamp(round_half_even(w / scale), -127, 127), with quantize_int8_per_tensor's handling
// of all-zero groups (scale 1) and non-finite values (NaN -> 0, +-inf -> +-127).
// kInvalidArgument when w.size() != rows * cols or the scheme is malformed.
Expected<QuantizedMatrix> quantize_weights_int8(std::span<const float> w, size_t rows, size_t cols,
                                                const WeightQuantScheme& scheme);

// The same into caller-owned buffers: q of rows * cols, scales of weight_quant_scale_count.
Status quantize_weights_int8(std::span<const float> w, size_t rows, size_t cols,
                             const WeightQuantScheme& scheme, std::span<int8_t> q,
                             std::span<float> scales);

// out[r, j] = q[r, j] * scale of (r, j), for tests and float reference paths. kInvalidArgument
// when m's sizes do not agree with each other or with out.
Status dequantize_weights_int8(const QuantizedMatrix& m, std::span<float> out);
Expected<std::vector<float>> dequantize_weights_int8(const QuantizedMatrix& m);

}  // namespace dcllm
