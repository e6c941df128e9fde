// Symmetric per-tensor INT8 quantization (round to nearest, ties to even). The range is
// +-127, not -128..127, so the grid is symmetric and negation is exact.
#include "quant/quantize_int8.h"

#include <algorithm>
#include <cmath>

namespace dcllm {

float quantize_int8_per_tensor(std::span<const float> w, std::span<int8_t> q) {
  float max_abs = 0.0f;
  for (float v : w) {
    if (std::isfinite(v)) max_abs = std::max(max_abs, std::fabs(v));
  }
  if (max_abs == 0.0f) {
    const size_t n = std::min(w.size(), q.size());
    for (size_t i = 0; i < n; ++i) {
      q[i] = std::isinf(w[i]) ? (w[i] > 0 ? 127 : -127) : 0;
    }
    return 1.0f;
  }
  // Levels are computed in double: max|w| / 127 can underflow float for denormal tensors,
  // and 127 / max|w| can overflow it; neither can in double.
  const double levels_per_unit = 127.0 / max_abs;
  const size_t n = std::min(w.size(), q.size());
  for (size_t i = 0; i < n; ++i) {
    const float v = w[i];
    if (std::isnan(v)) {
      q[i] = 0;
      continue;
    }
    const double level = std::clamp(std::nearbyint(v * levels_per_unit), -127.0, 127.0);
    q[i] = static_cast<int8_t>(level);
  }
  return max_abs / 127.0f;
}

}  // namespace dcllm
