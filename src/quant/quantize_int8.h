// INT8 quantization of weights: the first half of the "double compression" (the rANS coder
// is the second). Symmetric, zero-point free, so 0.0 maps to 0 and pruned weights stay 0.
#pragma once

#include <cstdint>
#include <span>

namespace dcllm {

// Symmetric per-tensor round-to-nearest: scale = max|w| / 127 (1 when every weight is 0),
// q[i] = clamp(round(w[i] / scale), -127, 127). Returns the scale; w[i] ~= q[i] * scale.
// Writes min(w.size(), q.size()) values. Non-finite weights do not set the scale: NaN maps
// to 0 and +-inf to +-127, so one bad value cannot flatten the whole tensor to zero.
float quantize_int8_per_tensor(std::span<const float> w, std::span<int8_t> q);

// The same with the range +-max_level (1..127) instead of +-127: scale = max|w| / max_level.
// A coarser step puts fewer distinct symbols on the weights, which the entropy coder turns
// into fewer bits per weight (about one bit less per halving of max_level).
float quantize_int8_symmetric(std::span<const float> w, std::span<int8_t> q, int max_level);

// Rounds w to the grid q * scale with a given scale (> 0, finite), q in [-max_level, max_level];
// NaN -> 0, +-inf -> +-max_level. Levels are computed in double.
void quantize_int8_with_scale(std::span<const float> w, std::span<int8_t> q, double scale,
                              int max_level);

}  // namespace dcllm
