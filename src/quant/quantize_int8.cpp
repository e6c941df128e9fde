// Symmetric INT8 quantization (round to nearest, ties to even). The range is +-max_level (127
// by default), not -128..127, so the grid is symmetric and negation is exact.
#include "quant/quantize_int8.h"

#include <algorithm>
#include <cmath>

namespace dcllm {

namespace {

void quantize_with_levels(std::span<const float> w, std::span<int8_t> q, double levels_per_unit,
                          int max_level) {
  const double top = max_level;
  const size_t n = std::min(w.size(), q.size());
  for (size_t i = 0; i < n; ++i) {
    const float v = w[i];
    if (std::isnan(v)) {
      q[i] = 0;
      continue;
    }
    const double level = std::clamp(std::nearbyint(v * levels_per_unit), -top, top);
    q[i] = static_cast<int8_t>(level);
  }
}

}  // namespace

void quantize_int8_with_scale(std::span<const float> w, std::span<int8_t> q, double scale,
                              int max_level) {
  quantize_with_levels(w, q, 1.0 / scale, std::clamp(max_level, 1, 127));
}

float quantize_int8_symmetric(std::span<const float> w, std::span<int8_t> q, int max_level) {
  max_level = std::clamp(max_level, 1, 127);
  float max_abs = 0.0f;
  for (float v : w) {
    if (std::isfinite(v)) max_abs = std::max(max_abs, std::fabs(v));
  }
  if (max_abs == 0.0f) {
    const size_t n = std::min(w.size(), q.size());
    for (size_t i = 0; i < n; ++i) {
      q[i] = std::isinf(w[i]) ? static_cast<int8_t>(w[i] > 0 ? max_level : -max_level) : 0;
    }
    return 1.0f;
  }
  // Levels are computed in double: max|w| / 127 can underflow float for denormal tensors,
  // and 127 / max|w| can overflow it; neither can in double.
  const double levels_per_unit = static_cast<double>(max_level) / max_abs;
  quantize_with_levels(w, q, levels_per_unit, max_level);
  return max_abs / static_cast<float>(max_level);
}

float quantize_int8_per_tensor(std::span<const float> w, std::span<int8_t> q) {
  return quantize_int8_symmetric(w, q, 127);
}

}  // namespace dcllm
